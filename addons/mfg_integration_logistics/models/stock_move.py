from odoo import fields, models


class StockMove(models.Model):
    _inherit = "stock.move"

    wms_system_id = fields.Many2one(
        "mfg.integration.system", string="WMS", copy=False, readonly=True, index=True
    )
    wms_movement_ref = fields.Char(
        string="WMS Movement",
        copy=False,
        readonly=True,
        index=True,
        help="The WMS's id of the movement this move books (applied once).",
    )

    def _action_assign(self, force_qty=False):
        result = super()._action_assign(force_qty=force_qty)
        self.picking_id._wms_release_ready()
        return result

    def _logistics_upstream_dates(self):
        """Dates of what feeds these moves: manufacturing orders finishing, purchases
        arriving (also purchases not yet confirmed), earlier steps' scheduled dates."""
        dates = []
        seen = self.browse()
        todo = self.move_orig_ids
        while todo:
            seen |= todo
            for move in todo.filtered(lambda m: m.state not in ("done", "cancel")):
                production = move.production_id
                if production:
                    dates.append(production.date_finished)
                elif move.purchase_line_id:
                    dates.append(move.purchase_line_id.date_planned)
                else:
                    dates.append(move.date)
            todo = todo.move_orig_ids - seen
        purchase_lines = self.env["purchase.order.line"].search(
            [("move_dest_ids", "in", (self | seen).ids), ("state", "!=", "cancel")]
        )
        dates += purchase_lines.mapped("date_planned")
        return dates

    def _logistics_downstream_sale_orders(self):
        """The sales orders these moves feed, following the chain to the customer."""
        seen = self.browse()
        todo = self
        while todo:
            seen |= todo
            todo = todo.move_dest_ids - seen
        return seen.sale_line_id.order_id
