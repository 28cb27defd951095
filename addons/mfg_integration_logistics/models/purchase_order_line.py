from odoo import models


class PurchaseOrderLine(models.Model):
    _inherit = "purchase.order.line"

    def write(self, vals):
        result = super().write(vals)
        if "date_planned" in vals:
            moves = self.move_dest_ids | self.move_ids
            moves._logistics_downstream_sale_orders()._crm_acknowledge()
        return result
