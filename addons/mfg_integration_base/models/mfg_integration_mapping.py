from odoo import api, fields, models

from ..services.errors import MappingMissing

# kind -> (Odoo model the external code maps to, label in business words)
MAPPING_KINDS = {
    "product": ("product.product", "Product"),
    "workcenter": ("mrp.workcenter", "Work center"),
    "location": ("stock.location", "Location"),
    "uom": ("uom.uom", "Unit of measure"),
    "loss_reason": ("mrp.workcenter.productivity.loss", "Loss reason"),
    "partner": ("res.partner", "Partner"),
    "lot": ("stock.lot", "Lot"),
    "equipment": ("maintenance.equipment", "Equipment"),
    "value": (False, "Value"),
}


class MfgIntegrationMapping(models.Model):
    _name = "mfg.integration.mapping"
    _description = "Value Mapping"
    _inherit = ["mail.thread"]
    _order = "system_id, kind"

    name = fields.Char(compute="_compute_name", store=True)
    system_id = fields.Many2one(
        "mfg.integration.system", required=True, ondelete="cascade", tracking=True, index=True
    )
    company_id = fields.Many2one(related="system_id.company_id", store=True, index=True)
    kind = fields.Selection(
        [(kind, label) for kind, (_model, label) in MAPPING_KINDS.items()],
        required=True,
        tracking=True,
    )
    target_model = fields.Char(compute="_compute_target_model", store=True)
    line_ids = fields.One2many("mfg.integration.mapping.line", "mapping_id", string="Lines")
    line_count = fields.Integer(compute="_compute_line_count")
    active = fields.Boolean(default=True, tracking=True)

    _sql_constraints = [
        (
            "system_kind_unique",
            "unique(system_id, kind)",
            "This system already has a mapping of this kind.",
        )
    ]

    @api.depends("system_id.name", "kind")
    def _compute_name(self):
        labels = dict(self._fields["kind"].selection)
        for mapping in self:
            mapping.name = f"{mapping.system_id.name or ''} / {labels.get(mapping.kind, '')}"

    @api.depends("kind")
    def _compute_target_model(self):
        for mapping in self:
            mapping.target_model = MAPPING_KINDS.get(mapping.kind, (False, ""))[0]

    def _compute_line_count(self):
        groups = self.env["mfg.integration.mapping.line"]._read_group(
            [("mapping_id", "in", self.ids)], ["mapping_id"], ["__count"]
        )
        counts = {mapping.id: count for mapping, count in groups}
        for mapping in self:
            mapping.line_count = counts.get(mapping.id, 0)

    @api.model
    def _kind_label(self, kind):
        return MAPPING_KINDS[kind][1]

    @api.model
    def _resolve(self, system, kind, external_code):
        """The Odoo record (or value, for kind 'value') mapped to ``external_code``.

        Raises MappingMissing, a business error a planner fixes by adding the mapping.
        """
        if kind not in MAPPING_KINDS:
            raise ValueError(f"unknown mapping kind {kind}")
        line = self.env["mfg.integration.mapping.line"].search(
            [
                ("mapping_id.system_id", "=", system.id),
                ("mapping_id.kind", "=", kind),
                ("mapping_id.active", "=", True),
                ("external_code", "=", str(external_code)),
            ],
            limit=1,
        )
        if not line or (kind != "value" and not line.target_ref):
            raise MappingMissing(system.name, kind, self._kind_label(kind), external_code)
        return line.odoo_value if kind == "value" else line.target_ref
