from odoo import fields, models


class MfgIntegrationApiKeyWizard(models.TransientModel):
    """Shows a freshly generated API key once; it is stored hashed and never again readable."""

    _name = "mfg.integration.api.key.wizard"
    _description = "New API Key"

    system_id = fields.Many2one("mfg.integration.system", required=True, readonly=True)
    api_key = fields.Char(readonly=True)

    def action_done(self):
        # the clear key must not stay in the database longer than the dialog
        self.write({"api_key": False})
        return {"type": "ir.actions.act_window_close"}
