"""The demo plant's planner: called only by a scheduled action that the demo data creates."""

import logging

from odoo import api, models
from odoo.tools import float_compare

_logger = logging.getLogger(__name__)

# Quantities the demo planner orders, in turn.
DEMO_ORDER_QUANTITIES = (20, 12, 30, 16, 24, 10)
# A component is replenished (a new lot) when less than this many orders' worth is free.
DEMO_COMPONENT_ORDERS_AHEAD = 6


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    @api.model
    def _demo_keep_plant_busy(self, bom_xmlids, waiting_orders=2):
        """Keep ``waiting_orders`` orders of each BoM released and not started, and their
        components in stock (a new lot when a tracked component runs low), so the demo's MES
        always has work. Returns the orders it confirmed."""
        confirmed = self.browse()
        for xmlid in bom_xmlids:
            bom = self.env.ref(xmlid, raise_if_not_found=False)
            if not bom:
                continue
            product = bom.product_id or bom.product_tmpl_id.product_variant_id
            self._demo_replenish(bom)
            waiting = self.search_count(
                [
                    ("bom_id", "=", bom.id),
                    ("state", "=", "confirmed"),
                    ("backorder_sequence", "=", 0),
                ]
            )
            total = self.search_count([("bom_id", "=", bom.id)])
            for index in range(max(waiting_orders - waiting, 0)):
                quantity = DEMO_ORDER_QUANTITIES[(total + index) % len(DEMO_ORDER_QUANTITIES)]
                production = self.create(
                    {"product_id": product.id, "bom_id": bom.id, "product_qty": quantity}
                )
                production.action_confirm()
                confirmed |= production
        if confirmed:
            _logger.info("Demo plant: released %s", ", ".join(confirmed.mapped("name")))
        return confirmed

    @api.model
    def _demo_replenish(self, bom):
        stock = self.env.ref("stock.stock_location_stock")
        Quant = self.env["stock.quant"].with_context(inventory_mode=True)
        for line in bom.bom_line_ids:
            component = line.product_id
            needed = line.product_qty * max(DEMO_ORDER_QUANTITIES) * DEMO_COMPONENT_ORDERS_AHEAD
            free = component.with_context(location=stock.id).free_qty
            if float_compare(free, needed, precision_rounding=component.uom_id.rounding) >= 0:
                continue
            values = {
                "product_id": component.id,
                "location_id": stock.id,
                "inventory_quantity": needed * 2,
            }
            if component.tracking != "none":
                count = self.env["stock.lot"].search_count([("product_id", "=", component.id)])
                code = component.default_code or f"P{component.id}"
                values["lot_id"] = (
                    self.env["stock.lot"]
                    .create({"name": f"{code}-R{count + 1:03d}", "product_id": component.id})
                    .id
                )
            else:
                quant = Quant.search(
                    [
                        ("product_id", "=", component.id),
                        ("location_id", "=", stock.id),
                        ("lot_id", "=", False),
                    ],
                    limit=1,
                )
                if quant:
                    quant.inventory_quantity = quant.quantity + needed * 2
                    quant.action_apply_inventory()
                    continue
            Quant.create(values).action_apply_inventory()
            _logger.info("Demo plant: replenished %s", component.display_name)
