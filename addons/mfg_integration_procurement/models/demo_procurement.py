"""The demo's purchasing: called only by the demo data (never in production)."""

from datetime import timedelta

from odoo import api, fields, models

# The demo plant's components (the MES addon's demo products, made here when it is absent):
# default code -> (name, tracking, cost, supplier's code, supplier)
DEMO_COMPONENTS = {
    "PLT-3MM": ("Steel Plate 3 mm", "lot", 4.20, "SS-PL3-1250", "steel"),
    "PCB-7": ("Controller Circuit Board", "lot", 18.50, "EB-7-CTRL", "boards"),
    "BOLT-M8": ("Bolt M8", "none", 0.08, "F-M8X30", "steel"),
}


class PurchaseOrder(models.Model):
    _inherit = "purchase.order"

    @api.model
    def _demo_procurement_orders(self, suppliers):
        """Confirmed purchase orders of the demo plant's components from the demo suppliers
        (``suppliers``: {'steel': partner xmlid, 'boards': partner xmlid}), due in the
        coming days, with the suppliers' own codes on the products."""
        partners = {key: self.env.ref(xmlid) for key, xmlid in suppliers.items()}
        Product = self.env["product.product"]
        lines = {}
        for code, (name, tracking, cost, supplier_code, supplier) in DEMO_COMPONENTS.items():
            product = Product.search([("default_code", "=", code)], limit=1) or Product.create(
                {
                    "name": name,
                    "default_code": code,
                    "is_storable": True,
                    "tracking": tracking,
                    "standard_price": cost,
                }
            )
            partner = partners[supplier]
            if not product.seller_ids.filtered(lambda s, p=partner: s.partner_id == p):
                product.seller_ids = [
                    (0, 0, {"partner_id": partner.id, "product_code": supplier_code, "price": cost})
                ]
            lines.setdefault(supplier, []).append((product, cost))
        now = fields.Datetime.now().replace(minute=0, second=0, microsecond=0)
        orders = self.browse()
        for days, supplier in ((2, "steel"), (4, "boards")):
            orders |= self.create(
                {
                    "partner_id": partners[supplier].id,
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "product_qty": 500 if product.tracking == "none" else 100,
                                "price_unit": cost,
                                "date_planned": now + timedelta(days=days),
                            },
                        )
                        for product, cost in lines[supplier]
                    ],
                }
            )
        orders.button_confirm()
        return orders
