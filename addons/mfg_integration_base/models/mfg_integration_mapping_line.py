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
    company_id = fields.Many2one(related="mapping_id.company_id", store=True, index=True)
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
    target_model = fields.Char(related="mapping_id.target_model", string="Maps To Model")
    target_name = fields.Char(
        string="Odoo Record Name",
        compute="_compute_target_name",
        inverse="_inverse_target_name",
        help="For CSV import and export: the name (or reference, e.g. a product's internal "
        "reference) of the Odoo record; it must match exactly one record.",
    )

    _sql_constraints = [
        (
            "code_unique",
            "unique(mapping_id, external_code)",
            "This external code is already mapped in this mapping.",
        )
    ]

    @api.depends("target_ref")
    def _compute_target_name(self):
        for line in self:
            line.target_name = line.target_ref.display_name if line.target_ref else False

    def _inverse_target_name(self):
        for line in self.filtered("target_name"):
            target = line._target_by_name(line.mapping_id, line.external_code, line.target_name)
            if line.target_ref != target:
                line.target_ref = target

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

    @api.model_create_multi
    def create(self, vals_list):
        # an imported record name becomes the target before the target is checked
        for vals in vals_list:
            if vals.get("target_name") and not vals.get("target_ref") and vals.get("mapping_id"):
                mapping = self.env["mfg.integration.mapping"].browse(vals["mapping_id"])
                target = self._target_by_name(
                    mapping, vals.get("external_code"), vals["target_name"]
                )
                vals["target_ref"] = f"{target._name},{target.id}"
        lines = super().create(vals_list)
        lines._retry_waiting_exceptions()
        return lines

    def write(self, vals):
        result = super().write(vals)
        if {"external_code", "target_ref", "odoo_value", "target_name"} & set(vals):
            self._retry_waiting_exceptions()
        return result

    def action_save_and_reload(self):
        """Dialog 'Save' (the record is saved before this runs): the list behind it shows
        the retried exceptions gone."""
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    @api.model
    def _selection_target_models(self):
        models_ = [model for model, _label in MAPPING_KINDS.values() if model]
        available = self.env["ir.model"].sudo().search([("model", "in", models_)])
        return [(model.model, model.name) for model in available]

    @api.model
    def _target_by_name(self, mapping, code, name):
        """The record of the mapping's kind named ``name`` (exactly one must match)."""
        model = mapping.target_model
        if not model:
            raise ValidationError(
                _(
                    "Code '%(code)s' maps to a value: fill 'Odoo Value', not a record name.",
                    code=code,
                )
            )
        name = name.strip()
        Target = self.env[model]
        matches = Target.search([("display_name", "=", name)], limit=2)
        if not matches:
            matches = Target.search([("display_name", "=ilike", name)], limit=2)
        if len(matches) != 1:
            raise ValidationError(
                _(
                    "Code '%(code)s': %(count)s %(label)s records are named '%(name)s'; "
                    "exactly one must match.",
                    code=code,
                    count=len(matches),
                    label=MAPPING_KINDS[mapping.kind][1].lower(),
                    name=name,
                )
            )
        return matches

    def _retry_waiting_exceptions(self):
        """A code now mapped: retry every open exception that waited on it."""
        Exception_ = self.env["mfg.integration.exception"].sudo()
        for line in self:
            target = line.target_ref.display_name if line.target_ref else line.odoo_value
            Exception_._retry_waiting_on_codes(
                [(line.system_id.id, line.kind, line.external_code)],
                _(
                    "Retried: %(user)s mapped code '%(code)s' to %(target)s.",
                    user=self.env.user.name,
                    code=line.external_code,
                    target=target,
                ),
            )

    @api.model
    def get_import_templates(self):
        return [
            {
                "label": _("Import Template for Mapped Codes"),
                "template": "/mfg_integration_base/static/xls/mfg_integration_mapping_line.csv",
            }
        ]
