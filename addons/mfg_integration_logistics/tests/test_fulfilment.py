from datetime import timedelta

from odoo.tests import tagged

from ..services.logistics_messages import stamp
from .common import LogisticsCase


@tagged("post_install", "-at_install")
class TestFulfilment(LogisticsCase):
    """CRM order -> sales order -> manufacturing order -> delivery released to the WMS ->
    the WMS's shipment -> delivery status to the CRM."""

    def confirmed_order(self, order_id="CRM-1", qty=10, product_code="BRK-100"):
        data = {
            "order_id": order_id,
            "customer_code": "CUST-1",
            "lines": [{"line_id": "1", "product_code": product_code, "qty": qty, "uom": "EA"}],
        }
        self.assertDone(self.send(self.crm, "crm.order.placed", order_id, data))
        order = self.env["sale.order"].search([("crm_order_ref", "=", order_id)])
        order.action_confirm()
        return order

    def produce(self, production, lot_name="L-1"):
        lot = self.env["stock.lot"].create({"name": lot_name, "product_id": self.bracket.id})
        production.action_assign()
        production.lot_producing_id = lot
        production.qty_producing = production.product_qty
        production._set_qty_producing()
        self.assertIs(production.button_mark_done(), True)
        return lot

    def released_delivery(self):
        order = self.confirmed_order()
        production = order.mrp_production_ids
        lot = self.produce(production)
        delivery = order.picking_ids
        self.assertEqual(delivery.state, "assigned")
        return order, delivery, lot

    def ship(self, delivery, lines, shipment_id="SHP-1", subject=None):
        data = {
            "shipment_id": shipment_id,
            "delivery_ref": delivery.name,
            "carrier": "DHL",
            "tracking_ref": "JD0001",
            "lines": lines,
        }
        return self.send(self.wms, "wms.shipment.confirmed", subject or delivery.name, data)

    def test_the_order_its_mo_and_its_delivery_reach_the_wms(self):
        order = self.confirmed_order()
        production = order.mrp_production_ids
        self.assertEqual((len(production), production.product_qty), (1, 10))
        self.assertEqual(production.state, "confirmed")
        delivery = order.picking_ids
        self.assertEqual(delivery.state, "waiting", "the bracket is made to order")
        self.assertFalse(self.outbound("wms.delivery.released"))
        acknowledged = self.outbound("crm.order.acknowledged", "CRM-1")
        self.assertEqual(len(acknowledged), 1)
        self.assertEqual(acknowledged.system_id, self.crm)
        self.assertEqual(acknowledged.payload["sale_ref"], order.name)
        self.assertEqual(
            [
                (line["line_id"], line["qty_confirmed"], line["uom"])
                for line in acknowledged.payload["lines"]
            ],
            [("1", 10, "EA")],
        )
        # the plant postpones the order: the promise moves with it, and the CRM hears of it
        production.date_start = production.date_start + timedelta(days=5)
        acknowledged = self.outbound("crm.order.acknowledged", "CRM-1")
        self.assertEqual(len(acknowledged), 2)
        self.assertEqual(acknowledged[1].payload["promised_date"], stamp(production.date_finished))
        self.assertGreater(
            acknowledged[1].payload["promised_date"], acknowledged[0].payload["promised_date"]
        )
        production.product_qty = 10  # no change of promise: nothing sent
        self.assertEqual(len(self.outbound("crm.order.acknowledged", "CRM-1")), 2)
        lot = self.produce(production)
        self.assertEqual(delivery.state, "assigned")
        released = self.outbound("wms.delivery.released", delivery.name)
        self.assertEqual(len(released), 1)
        self.assertEqual(released.system_id, self.wms)
        data = released.payload
        self.assertEqual((data["order_id"], data["origin"]), ("CRM-1", order.name))
        self.assertEqual(data["ship_to"]["name"], "ACME Corp")
        self.assertEqual(data["ship_to"]["city"], "Brussels")
        self.assertEqual(
            data["lines"],
            [
                {
                    "product_code": "BRK-100",
                    "product_name": "Steel Bracket",
                    "qty": 10,
                    "uom": "EA",
                    "lots": [{"lot": lot.name, "qty": 10}],
                }
            ],
        )
        self.assertTrue(delivery.wms_released_at)
        delivery.do_unreserve()
        delivery.action_assign()
        self.assertEqual(len(self.outbound("wms.delivery.released")), 1, "released once")
        self.run_jobs()
        received = {(e["type"], e["subject"]) for e in self.receiver.events()}
        self.assertIn(("wms.delivery.released", delivery.name), received)
        self.assertIn(("crm.order.acknowledged", "CRM-1"), received)
        self.assertEqual(set(self.outbound("wms.delivery.released").mapped("state")), {"done"})

    def test_a_partial_shipment_leaves_a_backorder_and_tells_the_crm(self):
        order, delivery, lot = self.released_delivery()
        shipment = self.ship(
            delivery,
            [
                {
                    "product_code": "BRK-100",
                    "qty": 6,
                    "uom": "EA",
                    "lot": lot.name,
                    "package": "PAL-1",
                }
            ],
        )
        self.assertDone(shipment)
        self.assertEqual(delivery.state, "done")
        self.assertEqual((delivery.wms_carrier, delivery.wms_tracking_ref), ("DHL", "JD0001"))
        self.assertEqual(delivery.move_line_ids.result_package_id.name, "PAL-1")
        self.assertEqual(sum(delivery.move_ids.mapped("quantity")), 6)
        backorder = order.picking_ids - delivery
        self.assertEqual(backorder.backorder_id, delivery)
        self.assertEqual(backorder.move_ids.product_uom_qty, 4)
        self.assertEqual(order.order_line.qty_delivered, 6)
        status = self.outbound("crm.delivery.status", "CRM-1")
        self.assertEqual(len(status), 1)
        self.assertEqual(status.system_id, self.crm)
        self.assertEqual(
            {
                key: status.payload[key]
                for key in ("status", "delivery_ref", "backorder_ref", "tracking_ref")
            },
            {
                "status": "partially_shipped",
                "delivery_ref": delivery.name,
                "backorder_ref": backorder.name,
                "tracking_ref": "JD0001",
            },
        )
        self.assertEqual(
            status.payload["lines"],
            [
                {
                    "line_id": "1",
                    "product_code": "BRK-100",
                    "qty_shipped": 6,
                    "qty_remaining": 4,
                    "uom": "EA",
                    "lots": [{"lot": lot.name, "qty": 6}],
                }
            ],
        )
        # the backorder, still reserved, goes to the WMS as a delivery of its own
        self.assertEqual(len(self.outbound("wms.delivery.released", backorder.name)), 1)
        # the same delivery shipped again (a WMS resend under a new id): nothing moves
        customers = self.env.ref("stock.stock_location_customers")
        again = self.ship(
            delivery, [{"product_code": "BRK-100", "qty": 6, "lot": lot.name}], "SHP-2"
        )
        self.assertDone(again)
        self.assertEqual(self.on_hand(self.bracket, customers), 6)
        self.assertEqual(delivery.wms_shipment_ref, "SHP-1")
        self.assertEqual(len(self.outbound("crm.delivery.status", "CRM-1")), 1)
        # the rest ships: the order is shipped
        self.assertDone(
            self.ship(backorder, [{"product_code": "BRK-100", "qty": 4, "lot": lot.name}], "SHP-3")
        )
        self.assertEqual(self.on_hand(self.bracket, customers), 10)
        last = self.outbound("crm.delivery.status", "CRM-1")[-1]
        self.assertEqual(last.payload["status"], "shipped")
        self.assertNotIn("backorder_ref", last.payload)
        self.run_jobs()
        statuses = [
            e["data"]["status"]
            for e in self.receiver.events()
            if e["type"] == "crm.delivery.status"
        ]
        self.assertEqual(statuses[-2:], ["partially_shipped", "shipped"])

    def test_a_shipment_of_a_held_lot_is_refused(self):
        order, delivery, lot = self.released_delivery()
        self.hold(lot, "Test: dimension out of tolerance")
        customers = self.env.ref("stock.stock_location_customers")
        shipment = self.ship(delivery, [{"product_code": "BRK-100", "qty": 10, "lot": lot.name}])
        self.assertBusinessError(shipment, "lot_on_hold")
        self.assertIn(lot.name, shipment.exception_id.name)
        self.assertNotEqual(delivery.state, "done")
        self.assertEqual(self.on_hand(self.bracket, customers), 0)
        self.assertFalse(self.outbound("crm.delivery.status"))

    def test_shipment_problems_are_business_exceptions(self):
        order, delivery, lot = self.released_delivery()
        unknown = self.send(
            self.wms,
            "wms.shipment.confirmed",
            "S-9",
            {
                "shipment_id": "S-9",
                "delivery_ref": "WH/OUT/NOPE",
                "lines": [{"product_code": "BRK-100", "qty": 1}],
            },
        )
        self.assertBusinessError(unknown, "delivery_unknown")
        other = self.ship(delivery, [{"product_code": "CBX-200", "qty": 1}], "S-10", "S-10")
        self.assertBusinessError(other, "product_not_in_delivery")
        unmapped_unit = self.ship(
            delivery,
            [{"product_code": "BRK-100", "qty": 1, "uom": "PAL", "lot": lot.name}],
            "S-11",
            "S-11",
        )
        self.assertBusinessError(unmapped_unit, "mapping_missing")
        no_lot = self.ship(delivery, [{"product_code": "BRK-100", "qty": 1}], "S-12", "S-12")
        self.assertBusinessError(no_lot, "lot_missing")
        self.assertEqual(delivery.state, "assigned")

    def test_a_purchase_that_moves_its_date_moves_the_promise(self):
        vendor = self.env["res.partner"].create({"name": "Box Supplier"})
        buy = self.env.ref("purchase_stock.route_warehouse0_buy")
        mto = self.env.ref("stock.route_warehouse0_mto")
        self.box.write(
            {
                "route_ids": [(6, 0, (buy | mto).ids)],
                "seller_ids": [(0, 0, {"partner_id": vendor.id, "min_qty": 1, "price": 10})],
            }
        )
        order = self.confirmed_order("CRM-7", qty=3, product_code="CBX-200")
        purchase_line = self.env["purchase.order.line"].search([("product_id", "=", self.box.id)])
        self.assertEqual(len(purchase_line), 1)
        first = self.outbound("crm.order.acknowledged", "CRM-7")
        self.assertEqual(len(first), 1)
        purchase_line.date_planned = purchase_line.date_planned + timedelta(days=9)
        acknowledged = self.outbound("crm.order.acknowledged", "CRM-7")
        self.assertEqual(len(acknowledged), 2)
        self.assertEqual(
            acknowledged[1].payload["lines"][0]["promised_date"], stamp(purchase_line.date_planned)
        )
        self.assertEqual(order.state, "sale")
