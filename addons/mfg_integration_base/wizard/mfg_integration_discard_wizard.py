from odoo import fields, models


class MfgIntegrationDiscardWizard(models.TransientModel):
    _name = "mfg.integration.discard.wizard"
    _description = "Discard Integration Exceptions"

    exception_ids = fields.Many2many("mfg.integration.exception", string="Exceptions")
    reason = fields.Text(
        required=True, help="Why these events must not be applied (kept for audit)."
    )

    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "mfg.integration.exception":
            values["exception_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values

    def action_discard(self):
        self.exception_ids.action_discard(self.reason)
        return {"type": "ir.actions.act_window_close"}
