from odoo import fields, models


class MfgIntegrationSigningSecretWizard(models.TransientModel):
    """Shows a freshly generated signing secret once; the form never shows it again."""

    _name = "mfg.integration.signing.secret.wizard"
    _description = "New Signing Secret"

    system_id = fields.Many2one("mfg.integration.system", required=True, readonly=True)
    signing_secret = fields.Char(readonly=True)

    def action_done(self):
        # the secret must not stay in the wizard's table longer than the dialog
        self.write({"signing_secret": False})
        return {"type": "ir.actions.act_window_close"}
