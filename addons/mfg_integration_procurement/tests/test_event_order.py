from datetime import timedelta

from odoo.tests import tagged

from .common import ProcurementCase, iso


@tagged("post_install", "-at_install")
class TestEventOrder(ProcurementCase):
    """Suppliers resend and their messages overtake each other: the end state is the one
    their latest statement gives, whatever the order and number of arrivals."""

    def state_of(self, order):
        picking = order.picking_ids.filtered(lambda p: p.picking_type_code == "incoming")
        return {
            "lines": [
                (
                    line.product_id.default_code,
                    line.supplier_state,
                    line.supplier_confirmed_qty,
                    line.supplier_confirmed_date,
                    line.date_planned,
                    line.has_supplier_deviation,
                )
                for line in order.order_line
            ],
            "shortages": sorted(
                (s.product_id.default_code, s.reason, s.gap_qty, s.state)
                for s in self.open_shortages(order)
            ),
            "receipt": (
                sorted(picking.move_ids.mapped("asn_qty")),
                sorted((ml.lot_name or "", ml.quantity) for ml in picking.move_line_ids),
                picking.scheduled_date,
            ),
        }

    def play(self, messages):
        """A fresh order and order of brackets; ``messages`` applied in the given order as
        (contract, data without po_ref, seconds before the run's start, event id)."""
        order = self.purchase()
        production = self.order_bracket(qty=10, days=3)
        for event_type, data, seconds_ago, event_id in messages:
            event = self.send(
                event_type,
                dict(data, po_ref=order.name),
                seconds_ago,
                event_id=f"{order.name}-{event_id}",
            )
            self.assertEqual(event.state, "done", event.error)
        state = self.state_of(order)
        production.action_cancel()  # the next play's order alone needs the steel
        return state

    def test_duplicated_and_reordered_supplier_events_give_the_same_end_state(self):
        late = {
            "product_code": "SUP-STL",
            "confirmed_qty": 100,
            "confirmed_date": iso(self.now + timedelta(days=6)),
        }
        partial = {"product_code": "SUP-BLT", "confirmed_qty": 300}
        on_time = {
            "product_code": "SUP-STL",
            "confirmed_qty": 100,
            "confirmed_date": iso(self.now + timedelta(days=2)),
        }
        first = ("supplier.po.confirmed", {"lines": [late, partial]}, 300, "c1")
        second = ("supplier.po.confirmed", {"lines": [on_time]}, 200, "c2")
        notice_v1 = (
            "supplier.shipment.notified",
            {
                "shipment_ref": "DN-1",
                "expected_arrival": iso(self.now + timedelta(days=2)),
                "lines": [{"product_code": "SUP-STL", "qty": 100, "lot": "H-1"}],
            },
            100,
            "n1",
        )
        notice_v2 = (
            "supplier.shipment.notified",
            {
                "shipment_ref": "DN-1",
                "expected_arrival": iso(self.now + timedelta(days=4)),
                "lines": [{"product_code": "SUP-STL", "qty": 80, "lot": "H-1"}],
            },
            50,
            "n2",
        )
        in_order = self.play([first, second, notice_v1, notice_v2])
        reordered = self.play([notice_v2, second, first, notice_v1])
        duplicated = self.play(
            [
                first,
                first,
                second,
                notice_v1,
                second,
                notice_v2,
                notice_v1[:3] + ("n1-resent",),
                first[:3] + ("c1-resent",),
            ]
        )
        for state in (in_order, reordered, duplicated):
            # the steel and bolt rows differ only by the dates the runs stamp relative to now
            self.assertEqual(state, in_order)
        steel = in_order["lines"][0]
        self.assertEqual(steel[1:3], ("confirmed", 100))
        self.assertEqual(in_order["receipt"][0], [0, 80])
        self.assertEqual(in_order["receipt"][1], [("", 400), ("H-1", 80)])
        # the notice's later arrival (day 4) after the start (day 3); bolts short by 100
        self.assertEqual(
            in_order["shortages"],
            [("BLT", "short", 40.0, "open"), ("STL", "late", 20.0, "open")],
        )

    def test_a_rejection_older_than_a_confirmation_changes_nothing(self):
        order = self.purchase()
        self.confirm(order, [{"product_code": "SUP-STL", "confirmed_qty": 100}], seconds_ago=10)
        event = self.send(
            "supplier.po.rejected", {"po_ref": order.name, "reason": "late reply"}, seconds_ago=60
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.line(order, self.steel).supplier_state, "confirmed")
        self.assertEqual(self.line(order, self.bolt).supplier_state, "rejected")
