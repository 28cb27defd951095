from odoo import fields, models


class MfgIntegrationOutboundSequence(models.Model):
    """The last CloudEvents ``sequence`` given to an outbound event, per system and subject.

    One row per (system, subject), bumped with INSERT … ON CONFLICT DO UPDATE: its row lock
    orders concurrent emitters of one subject, so sequences never repeat or go back.
    """

    _name = "mfg.integration.outbound.sequence"
    _description = "Outbound Event Sequence"
    _log_access = False

    system_id = fields.Many2one(
        "mfg.integration.system", required=True, readonly=True, ondelete="cascade"
    )
    subject = fields.Char(required=True, readonly=True, help="Empty for events with no subject.")
    last_value = fields.Integer(readonly=True)

    _sql_constraints = [
        ("system_subject_unique", "unique(system_id, subject)", "One sequence per subject."),
    ]
