from odoo import fields, models


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    crm_line_ref = fields.Char(
        string="CRM Line",
        copy=False,
        readonly=True,
        help="The CRM's id of this line: a changed CRM order updates the line of the same id.",
    )

    def _crm_promised_date(self):
        """When this line's goods can leave: the latest of its delivery's scheduled date and
        the dates of what feeds it (manufacturing orders' finish, purchases' arrival)."""
        self.ensure_one()
        moves = self.move_ids.filtered(
            lambda m: m.state != "cancel" and m.location_dest_id.usage == "customer"
        )
        dates = [move.date for move in moves if move.date]
        dates += [date for date in moves._logistics_upstream_dates() if date]
        return max(dates) if dates else self.order_id.commitment_date or self.order_id.date_order
