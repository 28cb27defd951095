from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .mfg_integration_mapping import MAPPING_KINDS


class MfgIntegrationMappingLine(models.Model):
    _name = "mfg.integration.mapping.line"
    _description = "Value Mapping Line"
    _order = "mapping_id, external_code"
    _rec_name = "external_code"

    mapping_id = fields.Many2one(
        "mfg.integration.mapping", required=True, ondelete="cascade", index=True
    )
    system_id = fields.Many2one(related="mapping_id.system_id", store=True, index=True)
    kind = fields.Selection(related="mapping_id.kind", store=True)
    external_code = fields.Char(
        required=True, index=True, help="The code the external system sends."
    )
    target_ref = fields.Reference(
        selection="_selection_target_models",
        string="Odoo Record",
        help="The Odoo record this code stands for.",
    )
    odoo_value = fields.Char(help="For value mappings: the Odoo-side value.")
    note = fields.Char()

    _sql_constraints = [
        (
            "code_unique",
            "unique(mapping_id, external_code)",
            "This external code is already mapped in this mapping.",
        )
    ]

    @api.model
    def _selection_target_models(self):
        models_ = [model for model, _label in MAPPING_KINDS.values() if model]
        available = self.env["ir.model"].sudo().search([("model", "in", models_)])
        return [(model.model, model.name) for model in available]

    @api.constrains("target_ref", "odoo_value", "mapping_id")
    def _check_target(self):
        for line in self:
            kind = line.mapping_id.kind
            if kind == "value":
                if not line.odoo_value:
                    raise ValidationError(
                        _("Code '%(code)s' needs an Odoo value.", code=line.external_code)
                    )
                continue
            if not line.target_ref:
                raise ValidationError(
                    _("Code '%(code)s' needs an Odoo record.", code=line.external_code)
                )
            expected = line.mapping_id.target_model
            if expected and line.target_ref._name != expected:
                raise ValidationError(
                    _(
                        "Code '%(code)s' must map to a %(label)s.",
                        code=line.external_code,
                        label=MAPPING_KINDS[kind][1].lower(),
                    )
                )
