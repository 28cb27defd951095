from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class MfgQualityPoint(models.Model):
    _name = "mfg.quality.point"
    _description = "Quality Point"
    _inherit = ["mail.thread"]
    _order = "product_id, sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    product_id = fields.Many2one(
        "product.product", index=True, tracking=True, help="Empty: every product."
    )
    operation_id = fields.Many2one(
        "mrp.routing.workcenter",
        string="Operation",
        tracking=True,
        help="The BoM operation whose work orders this point checks (empty: any).",
    )
    workcenter_id = fields.Many2one(
        "mrp.workcenter", string="Work Center", tracking=True, help="Empty: any work center."
    )
    characteristic = fields.Char(
        required=True,
        index=True,
        tracking=True,
        help="The code inspection results name this check by (e.g. thickness); the quality "
        "system's and the MES's events use it.",
    )
    test_type = fields.Selection(
        [("passfail", "Pass / Fail"), ("measure", "Measure")],
        required=True,
        default="passfail",
        tracking=True,
    )
    norm = fields.Float(string="Target", digits=(16, 4))
    tolerance_min = fields.Float(string="Lower Limit", digits=(16, 4), tracking=True)
    tolerance_max = fields.Float(string="Upper Limit", digits=(16, 4), tracking=True)
    unit = fields.Char(help="The unit of the measured value, e.g. mm.")
    critical = fields.Boolean(
        tracking=True,
        help="A failed check of a critical point puts the lot on hold at once.",
    )
    note = fields.Html(string="Instructions")
    check_ids = fields.One2many("mfg.quality.check", "point_id", string="Checks")
    check_count = fields.Integer(compute="_compute_check_count")

    _sql_constraints = [
        (
            "characteristic_product_uniq",
            "unique(company_id, product_id, characteristic, operation_id)",
            "A product has one quality point per characteristic and operation.",
        )
    ]

    @api.depends("check_ids")
    def _compute_check_count(self):
        counts = {
            point.id: count
            for point, count in self.env["mfg.quality.check"]._read_group(
                [("point_id", "in", self.ids)], ["point_id"], ["__count"]
            )
        }
        for point in self:
            point.check_count = counts.get(point.id, 0)

    @api.constrains("test_type", "tolerance_min", "tolerance_max")
    def _check_tolerances(self):
        for point in self:
            if point.test_type == "measure" and point.tolerance_min > point.tolerance_max:
                raise ValidationError(
                    _(
                        "Quality point %(name)s: the lower limit %(low)s is above the upper "
                        "limit %(high)s.",
                        name=point.name,
                        low=point.tolerance_min,
                        high=point.tolerance_max,
                    )
                )

    def _within_tolerance(self, value):
        """Whether a measured ``value`` is inside this measure point's limits (None: no
        opinion, the point is pass/fail or no value was measured)."""
        self.ensure_one()
        if self.test_type != "measure" or value is None:
            return None
        return self.tolerance_min <= value <= self.tolerance_max

    @api.model
    def _find(self, product, characteristic, operation=None):
        """The point of ``product`` (or of every product) for ``characteristic``; the
        operation's own point first."""
        points = self.search(
            [
                ("characteristic", "=", characteristic),
                "|",
                ("product_id", "=", product.id),
                ("product_id", "=", False),
            ]
        )
        return points.sorted(
            lambda p: (
                not (operation and p.operation_id == operation),
                not p.product_id,
                p.sequence,
                p.id,
            )
        )[:1]

    def action_view_checks(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_quality.action_mfg_quality_check"
        )
        action["domain"] = [("point_id", "=", self.id)]
        return action
