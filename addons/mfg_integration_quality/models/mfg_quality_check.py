from odoo import _, api, fields, models


class MfgQualityCheck(models.Model):
    _name = "mfg.quality.check"
    _description = "Quality Check"
    _inherit = ["mail.thread"]
    _order = "checked_at desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    point_id = fields.Many2one("mfg.quality.point", string="Quality Point", index=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    product_id = fields.Many2one("product.product", required=True, index=True)
    lot_id = fields.Many2one("stock.lot", string="Lot/Serial", index=True)
    production_id = fields.Many2one("mrp.production", string="Manufacturing Order", index=True)
    workorder_id = fields.Many2one("mrp.workorder", string="Work Order", index=True)
    characteristic = fields.Char(required=True)
    result = fields.Selection(
        [("pass", "Passed"), ("fail", "Failed")], required=True, tracking=True, index=True
    )
    measured_value = fields.Float(digits=(16, 4))
    has_measure = fields.Boolean(string="Measured")
    unit = fields.Char()
    lower_limit = fields.Float(digits=(16, 4))
    upper_limit = fields.Float(digits=(16, 4))
    critical = fields.Boolean(
        help="Failed on a critical point (or the sender said so): the lot went on hold."
    )
    inspector = fields.Char(help="Who or which device took the measurement, as reported.")
    user_id = fields.Many2one(
        "res.users", string="Recorded By", default=lambda self: self.env.user, readonly=True
    )
    system_id = fields.Many2one(
        "mfg.integration.system", string="Reported By System", readonly=True, index=True
    )
    event_id = fields.Many2one("mfg.integration.event", string="Event", readonly=True)
    checked_at = fields.Datetime(
        string="Checked At", required=True, default=fields.Datetime.now, index=True
    )
    hold_id = fields.Many2one("mfg.quality.hold", string="Hold Placed", readonly=True)

    @api.depends("characteristic", "lot_id", "product_id")
    def _compute_name(self):
        for check in self:
            check.name = " / ".join(
                filter(
                    None,
                    [
                        check.characteristic,
                        check.lot_id.name or check.product_id.display_name,
                    ],
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        checks = super().create(vals_list)
        checks._hold_failed_critical()
        return checks

    def _hold_failed_critical(self):
        """A failed critical check puts its lot on hold at once (one hold per lot: a lot
        already held keeps its hold, with this check noted)."""
        for check in self.filtered(lambda c: c.result == "fail" and c.critical and c.lot_id):
            reason = _(
                "Critical check %(characteristic)s failed%(value)s",
                characteristic=check.characteristic,
                value=(
                    _(
                        ": %(value)s %(unit)s outside %(low)s-%(high)s",
                        value=check.measured_value,
                        unit=check.unit or "",
                        low=check.lower_limit,
                        high=check.upper_limit,
                    )
                    if check.has_measure
                    else ""
                ),
            )
            check.hold_id = self.env["mfg.quality.hold"]._place(
                check.lot_id,
                reason,
                origin=check,
                event=check.event_id,
                decided_at=check.checked_at,
            )
