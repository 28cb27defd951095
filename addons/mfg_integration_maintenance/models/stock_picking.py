from odoo import fields, models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    maintenance_request_id = fields.Many2one(
        "maintenance.request",
        string="Maintenance Request",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The request whose spare parts this transfer reserves.",
    )
