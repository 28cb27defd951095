from odoo import models

# Fields whose change can move the date a sales order fed by the order is promised for.
PROMISE_FIELDS = ("date_start", "date_finished", "product_qty")


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    def write(self, vals):
        result = super().write(vals)
        if any(field in vals for field in PROMISE_FIELDS):
            self.move_finished_ids._logistics_downstream_sale_orders()._crm_acknowledge()
        return result
