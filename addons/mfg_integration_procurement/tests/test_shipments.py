from datetime import timedelta

from odoo.tests import tagged

from .common import ProcurementCase, iso


@tagged("post_install", "-at_install")
class TestShipments(ProcurementCase):
    def notify(self, order, lines, shipment="DN-1", seconds_ago=0.0, days=2, event_id=None):
        return self.send(
            "supplier.shipment.notified",
            {
                "po_ref": order.name,
                "shipment_ref": shipment,
                "carrier_ref": f"TRACK-{shipment}",
                "expected_arrival": iso(self.now + timedelta(days=days)),
                "lines": lines,
            },
            seconds_ago=seconds_ago,
            event_id=event_id,
        )

    def expected_lines(self, picking):
        return sorted(
            (ml.product_id.default_code, ml.lot_name or "", ml.quantity, ml.picked)
            for ml in picking.move_line_ids
        )

    def test_a_notice_prepares_the_receipt_without_validating_it(self):
        order = self.purchase()
        picking = self.receipt(order)
        event = self.notify(
            order,
            [
                {"product_code": "SUP-STL", "qty": 60, "lot": "H-1"},
                {"product_code": "SUP-STL", "qty": 40, "lot": "H-2"},
                {"product_code": "SUP-BLT", "qty": 400},
            ],
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(event.result_res_id, picking.id)
        self.assertEqual(picking.state, "assigned")
        self.assertEqual(picking.asn_shipment_refs, "DN-1")
        self.assertEqual(picking.asn_carrier_ref, "TRACK-DN-1")
        self.assertEqual(picking.scheduled_date, self.now + timedelta(days=2))
        self.assertEqual(
            self.expected_lines(picking),
            [("BLT", "", 400, False), ("STL", "H-1", 60, False), ("STL", "H-2", 40, False)],
        )
        self.assertEqual(
            sorted(picking.move_ids.mapped("asn_qty")), [100, 400], "announced per move"
        )

    def test_a_notice_followed_by_a_short_receipt_opens_an_exception_and_a_shortage(self):
        order = self.purchase()
        production = self.order_bracket(qty=75, days=3)  # needs 150 steel
        picking = self.receipt(order)
        notice = self.notify(
            order,
            [
                {"product_code": "SUP-STL", "qty": 100, "lot": "H-1"},
                {"product_code": "SUP-BLT", "qty": 400},
            ],
        )
        self.receive(picking, {self.steel: [("H-1", 60)], self.bolt: [(None, 399)]})
        self.assertEqual(picking.state, "done")
        exceptions = self.env["mfg.integration.exception"].search(
            [("reason_code", "=", "receipt_differs_from_notice")]
        )
        # the bolts are within the 2% tolerance; the steel is not
        self.assertEqual(len(exceptions), 1)
        exception = exceptions
        self.assertEqual(
            (exception.category, exception.state, exception.error_class),
            ("business", "open", "value"),
        )
        self.assertEqual((exception.event_id, exception.system_id), (notice, self.portal))
        self.assertIn("60", exception.name)
        self.assertIn("announced 100", exception.name)
        self.assertIn("Announced: 100", exception.details)
        self.assertIn("Received: 60", exception.details)
        self.assertEqual(self.line(order, self.steel).qty_received, 60)
        shortage = self.open_shortages(order)
        # 100 ordered, 60 in, nothing more coming: the order still lacks 40 of its 150
        self.assertEqual((shortage.reason, shortage.gap_qty), ("short", 40))
        self.assertEqual(shortage.production_ids, production)

        received = self.outbound("procurement.goods.received", order.name)
        self.assertEqual(len(received), 1)
        self.assertEqual(received.state, "done")
        data = received.payload
        self.assertEqual((data["receipt_ref"], data["shipment_refs"]), (picking.name, ["DN-1"]))
        self.assertEqual(data["stock_system_of_record"], "odoo")
        self.assertEqual(
            sorted(
                (line["product_code"], line["supplier_product_code"], line["qty"], line["lot"])
                for line in data["lines"]
            ),
            [("BLT", "SUP-BLT", 399, None), ("STL", "SUP-STL", 60, "H-1")],
        )
        delivered = [
            body
            for _h, body, _p in self.receiver.requests
            if body["type"] == "procurement.goods.received"
        ]
        self.assertEqual(len(delivered), 1)

    def test_a_receipt_as_notified_opens_nothing(self):
        order = self.purchase()
        picking = self.receipt(order)
        self.notify(
            order,
            [
                {"product_code": "SUP-STL", "qty": 100, "lot": "H-1"},
                {"product_code": "SUP-BLT", "qty": 400},
            ],
        )
        self.receive(picking, {self.steel: [("H-1", 100)], self.bolt: [(None, 400)]})
        self.assertFalse(
            self.env["mfg.integration.exception"].search(
                [("reason_code", "=", "receipt_differs_from_notice")]
            )
        )
        self.assertFalse(self.open_shortages(order))

    def test_a_notice_for_a_received_order_is_a_business_error(self):
        order = self.purchase(lines=[(self.bolt, 400, 0.1)])
        self.receive(self.receipt(order), {self.bolt: [(None, 400)]})
        event = self.notify(order, [{"product_code": "SUP-BLT", "qty": 400}], shipment="DN-9")
        self.assertBusinessError(event, "nothing_to_receive")
