from odoo import _, api, fields, models
from odoo.exceptions import AccessError


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    default_sla_latency_seconds = fields.Integer(
        string="Default SLA for New Contracts (s)",
        default_model="mfg.integration.contract",
        default=300,
    )
    default_retention_days = fields.Integer(
        string="Default Retention for New Systems (days)",
        default_model="mfg.integration.system",
        default=90,
    )
    default_max_attempts = fields.Integer(
        string="Default Attempts Before an Exception",
        default_model="mfg.integration.contract",
        default=5,
    )
    mfg_environment = fields.Selection(
        [("production", "Production"), ("test", "Test")],
        string="This Database Is",
        config_parameter="mfg_integration_base.environment",
        default="production",
        help="Odoo talks only to external systems of the same environment. A neutralized "
        "copy of a database (odoo neutralize) becomes a test database.",
    )
    mfg_metrics_token_set = fields.Boolean(
        string="Metrics Token Set", compute="_compute_mfg_metrics_token_set"
    )

    @api.depends("company_id")
    def _compute_mfg_metrics_token_set(self):
        stored = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("mfg_integration_base.metrics_token_sha256")
        )
        for settings in self:
            settings.mfg_metrics_token_set = bool(stored)

    def action_mfg_generate_metrics_token(self):
        self._check_integration_manager()
        token = self.env["mfg.integration.metrics"]._new_token()
        wizard = self.env["mfg.integration.metrics.token.wizard"].create({"token": token})
        return {
            "type": "ir.actions.act_window",
            "name": _("Metrics token"),
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_mfg_revoke_metrics_token(self):
        self._check_integration_manager()
        self.env["mfg.integration.metrics"]._revoke_token()
        return True

    def _check_integration_manager(self):
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise AccessError(_("Only an Integration Manager can manage the metrics token."))
