from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

QUANTITY_TYPES = ("float", "integer", "monetary")


class MfgIntegrationContractEffect(models.Model):
    """A model whose records a contract's handler creates or changes.

    In shadow mode, changes to these models are recorded on the event (business key and
    quantity of each record) before the handler's work is rolled back; the shadow vs
    legacy reconciliation compares them with what the legacy interface did.
    """

    _name = "mfg.integration.contract.effect"
    _description = "Contract Effect Model (shadow mode)"
    _order = "contract_id, sequence, id"

    contract_id = fields.Many2one(
        "mfg.integration.contract", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    model_id = fields.Many2one(
        "ir.model",
        string="Model",
        required=True,
        ondelete="cascade",
        domain=[("transient", "=", False)],
    )
    model = fields.Char(related="model_id.model", store=True, string="Technical Model")
    key_field_id = fields.Many2one(
        "ir.model.fields",
        string="Business Key",
        required=True,
        ondelete="cascade",
        domain="[('model_id', '=', model_id), ('store', '=', True), "
        "('ttype', 'in', ('char', 'many2one', 'selection', 'integer', 'date'))]",
        help="The field that identifies the business object in both paths, e.g. the "
        "manufacturing order of a stock move or a lot name.",
    )
    quantity_field_id = fields.Many2one(
        "ir.model.fields",
        string="Quantity",
        required=True,
        ondelete="cascade",
        domain="[('model_id', '=', model_id), ('store', '=', True), "
        "('ttype', 'in', ('float', 'integer', 'monetary'))]",
    )

    _sql_constraints = [
        (
            "contract_model_key_quantity_unique",
            "unique(contract_id, model_id, key_field_id, quantity_field_id)",
            "This effect is already declared for the contract.",
        ),
    ]

    @api.depends("model_id", "key_field_id", "quantity_field_id")
    def _compute_display_name(self):
        for effect in self:
            effect.display_name = _(
                "%(model)s: %(quantity)s per %(key)s",
                model=effect.model_id.name or "",
                quantity=effect.quantity_field_id.field_description or "",
                key=effect.key_field_id.field_description or "",
            )

    @api.constrains("model_id", "key_field_id", "quantity_field_id")
    def _check_fields(self):
        for effect in self:
            if effect.key_field_id.model_id != effect.model_id:
                raise ValidationError(
                    _("The business key must be a field of %(model)s.", model=effect.model_id.name)
                )
            if (
                effect.quantity_field_id.model_id != effect.model_id
                or effect.quantity_field_id.ttype not in QUANTITY_TYPES
            ):
                raise ValidationError(
                    _(
                        "The quantity must be a numeric field of %(model)s.",
                        model=effect.model_id.name,
                    )
                )
