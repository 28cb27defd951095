from odoo import fields, models


class MfgIntegrationMetricsTokenWizard(models.TransientModel):
    """Shows a new metrics token once; only its hash is kept."""

    _name = "mfg.integration.metrics.token.wizard"
    _description = "New Metrics Token"

    token = fields.Char(readonly=True)

    def action_done(self):
        # the clear token must not stay in the database longer than the dialog
        self.write({"token": False})
        return {"type": "ir.actions.act_window_close"}
