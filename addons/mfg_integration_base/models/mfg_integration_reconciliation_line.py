from odoo import fields, models

from .mfg_integration_reconciliation_run import STATUSES


class MfgIntegrationReconciliationLine(models.Model):
    _name = "mfg.integration.reconciliation.line"
    _description = "Reconciliation Line"
    _order = "run_id desc, id"
    _rec_name = "label"

    run_id = fields.Many2one(
        "mfg.integration.reconciliation.run",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    rule_id = fields.Many2one(
        "mfg.integration.reconciliation.rule", index=True, ondelete="cascade", readonly=True
    )
    key = fields.Char(required=True, readonly=True, index=True)
    label = fields.Char(string="What", readonly=True)
    odoo_value = fields.Float(string="In Odoo", digits=(16, 4), readonly=True)
    external_value = fields.Float(string="Reported Externally", digits=(16, 4), readonly=True)
    difference = fields.Float(
        digits=(16, 4), readonly=True, help="Odoo minus external; a missing side counts as 0."
    )
    status = fields.Selection(STATUSES, required=True, readonly=True, index=True)
    exception_id = fields.Many2one(
        "mfg.integration.exception", readonly=True, index="btree_not_null", ondelete="set null"
    )
    run_started_at = fields.Datetime(related="run_id.started_at", string="Run Started")
