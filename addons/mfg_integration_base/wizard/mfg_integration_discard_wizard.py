from odoo import fields, models


class MfgIntegrationDiscardWizard(models.TransientModel):
    _name = "mfg.integration.discard.wizard"
    _inherit = ["mfg.integration.exception.selection"]
    _description = "Discard Integration Exceptions"

    exception_ids = fields.Many2many("mfg.integration.exception", string="Exceptions")
    reason = fields.Text(
        required=True, help="Why these events must not be applied (kept for audit)."
    )

    def action_discard(self):
        self.exception_ids.action_discard(self.reason)
        return {"type": "ir.actions.act_window_close"}
