from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class MfgIntegrationDeprecateWizard(models.TransientModel):
    """Deprecate a contract version with the date after which the API refuses it."""

    _name = "mfg.integration.deprecate.wizard"
    _description = "Deprecate a Contract Version"

    contract_id = fields.Many2one("mfg.integration.contract", required=True, readonly=True)
    sunset_date = fields.Date(
        required=True, help="After this date the API refuses events of this version."
    )

    @api.constrains("sunset_date")
    def _check_sunset_date(self):
        for wizard in self:
            if wizard.sunset_date < fields.Date.context_today(wizard):
                raise ValidationError(_("The sunset date cannot be in the past."))

    def action_deprecate(self):
        self.contract_id.action_deprecate()
        self.contract_id.sunset_date = self.sunset_date
        return {"type": "ir.actions.act_window_close"}
