from odoo import api, models


class MfgIntegrationExceptionSelection(models.AbstractModel):
    """Fills a bulk wizard's ``exception_ids`` with the selection it was opened from.

    (Each wizard declares its own ``exception_ids``: a many2many on this mixin would give
    them all one relation table.)
    """

    _name = "mfg.integration.exception.selection"
    _description = "Selected Integration Exceptions"

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "mfg.integration.exception":
            values["exception_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values
