from odoo import fields, models


class StockMove(models.Model):
    _inherit = "stock.move"

    asn_qty = fields.Float(
        string="Notified Qty",
        digits="Product Unit of Measure",
        readonly=True,
        copy=False,
        help="What the supplier's shipment notices announce for this move, in its "
        "unit: the receipt is compared with it when validated.",
    )
