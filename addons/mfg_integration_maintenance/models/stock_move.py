from odoo import api, fields, models


class StockMove(models.Model):
    _inherit = "stock.move"

    maintenance_request_id = fields.Many2one(
        "maintenance.request",
        string="Maintenance Request",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )
    maintenance_kind = fields.Selection(
        [("reservation", "Reserved"), ("consumption", "Consumed")],
        string="Maintenance Use",
        readonly=True,
    )
    maintenance_ref = fields.Char(
        string="CMMS Reference",
        readonly=True,
        index="btree_not_null",
        help="The CMMS's reference of the reservation or consumption: sent again, it is "
        "applied once.",
    )
    maintenance_unit_cost = fields.Float(
        string="Unit Cost",
        readonly=True,
        digits="Product Price",
        help="The part's cost when the consumption was posted.",
    )
    maintenance_cost = fields.Float(
        string="Parts Cost",
        compute="_compute_maintenance_cost",
        store=True,
        digits="Product Price",
    )

    @api.depends("maintenance_kind", "state", "quantity", "maintenance_unit_cost")
    def _compute_maintenance_cost(self):
        for move in self:
            done = move.maintenance_kind == "consumption" and move.state == "done"
            move.maintenance_cost = move.quantity * move.maintenance_unit_cost if done else 0.0

    def _action_done(self, cancel_backorder=False):
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        moves.product_id._emit_part_availability()
        return moves

    def _action_assign(self, force_qty=False):
        result = super()._action_assign(force_qty=force_qty)
        reserved = self.filtered(lambda m: m.maintenance_kind == "reservation")
        reserved.product_id._emit_part_availability()
        return result
