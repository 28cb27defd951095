from odoo import _, fields, models
from odoo.exceptions import UserError

from ..services import connection_check


class MfgIntegrationSapConnectionTest(models.TransientModel):
    _name = "mfg.integration.sap.connection.test"
    _description = "SAP Connection Test"

    system_id = fields.Many2one("mfg.integration.system", required=True, ondelete="cascade")
    result = fields.Selection([("ok", "Connected"), ("failed", "Failed")], readonly=True)
    report = fields.Text(readonly=True)

    def _run(self):
        self.ensure_one()
        try:
            settings = self.system_id._sap_settings()
        except UserError as error:
            self.write({"result": "failed", "report": str(error)})
            return self
        report = connection_check.check(settings)
        lines = [_("SAP service root: %(url)s", url=settings.url)]
        if settings.sap_client:
            lines.append(_("SAP client: %(client)s", client=settings.sap_client))
        lines.append(
            _(
                "Authentication: %(method)s",
                method=dict(self.system_id._fields["sap_auth_method"].selection).get(
                    settings.auth_method, settings.auth_method
                ),
            )
        )
        lines += report.lines()
        self.write({"result": "ok" if report.ok else "failed", "report": "\n".join(lines)})
        return self
