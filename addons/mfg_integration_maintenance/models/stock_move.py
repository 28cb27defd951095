from odoo import api, fields, models
from odoo.tools import float_compare


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
    maintenance_reserved_qty = fields.Float(
        string="Reserved by the CMMS",
        readonly=True,
        digits="Product Unit of Measure",
        help="The quantity the CMMS reserved (the move's demand is what is left of it).",
    )
    maintenance_used_qty = fields.Float(
        string="Used",
        readonly=True,
        digits="Product Unit of Measure",
        help="What consumptions of the request used of this reservation.",
    )
    maintenance_unreserved_qty = fields.Float(
        string="Used Without Reservation",
        readonly=True,
        digits="Product Unit of Measure",
        help="What this consumption took that no reservation covered (yet): a reservation "
        "arriving later counts it as used.",
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

    def _cmms_set_demand(self, demand, keep=True):
        """Reservation moves: reserve ``demand`` now; none (or not ``keep``): cancelled, its
        quants free again."""
        for move in self:
            if (
                float_compare(demand, 0.0, precision_rounding=move.product_uom.rounding) <= 0
                or not keep
            ):
                move._action_cancel()
                if move.picking_id and all(m.state == "cancel" for m in move.picking_id.move_ids):
                    move.picking_id.action_cancel()
                continue
            if float_compare(
                move.product_uom_qty, demand, precision_rounding=move.product_uom.rounding
            ):
                move._do_unreserve()
                move.product_uom_qty = demand
                move._action_assign()
        self.product_id._emit_part_availability()

    def _action_done(self, cancel_backorder=False):
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        moves.product_id._emit_part_availability()
        return moves

    def _action_assign(self, force_qty=False):
        result = super()._action_assign(force_qty=force_qty)
        reserved = self.filtered(lambda m: m.maintenance_kind == "reservation")
        reserved.product_id._emit_part_availability()
        return result
