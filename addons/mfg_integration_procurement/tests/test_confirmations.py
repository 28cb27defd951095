from datetime import timedelta

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue

from .common import ProcurementCase, iso


@tagged("post_install", "-at_install")
class TestConfirmations(ProcurementCase):
    def test_a_later_date_opens_a_shortage_on_the_order_and_a_restored_date_closes_it(self):
        order = self.purchase()
        production = self.order_bracket(qty=10, days=3)
        steel = self.line(order, self.steel)
        late = self.now + timedelta(days=5)
        event = self.confirm(
            order, [{"product_code": "SUP-STL", "confirmed_qty": 100, "confirmed_date": iso(late)}]
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual((steel.supplier_state, steel.supplier_confirmed_qty), ("confirmed", 100))
        self.assertEqual(steel.date_planned, late)
        self.assertEqual(steel.supplier_requested_date, self.now + timedelta(days=1))
        self.assertTrue(steel.has_supplier_deviation)
        self.assertIn("Arrival", steel.supplier_deviation)
        shortage = self.open_shortages(order)
        self.assertEqual(len(shortage), 1)
        self.assertEqual(
            (shortage.reason, shortage.purchase_line_id, shortage.production_ids),
            ("late", steel, production),
        )
        # the order needs 20 steel; the 100 coming arrive two days after its start
        self.assertEqual(shortage.gap_qty, 20)
        self.assertEqual(shortage.expected_date, late)
        self.assertEqual(shortage.needed_date, production.date_start)
        self.assertEqual(shortage.gap_days, 2)
        self.assertEqual(production.open_shortage_count, 1)
        self.assertIn("20", production.shortage_summary)
        detected = self.outbound("procurement.shortage.detected", shortage.name)
        self.assertEqual(len(detected), 1)
        self.assertEqual(detected.payload["productions"], [production.name])
        self.assertEqual((detected.payload["reason"], detected.payload["gap_qty"]), ("late", 20))
        self.assertEqual(detected.state, "done")
        self.assertEqual(self.receiver.requests[-1][1]["type"], "procurement.shortage.detected")

        self.confirm(
            order,
            [
                {
                    "product_code": "SUP-STL",
                    "confirmed_qty": 100,
                    "confirmed_date": iso(self.now + timedelta(days=1)),
                }
            ],
        )
        self.assertEqual(shortage.state, "closed")
        self.assertTrue(shortage.closed_at)
        self.assertFalse(steel.has_supplier_deviation)
        self.assertEqual(production.open_shortage_count, 0)
        resolved = self.outbound("procurement.shortage.resolved", shortage.name)
        self.assertEqual(len(resolved), 1)
        self.assertEqual(resolved.sequence, "000000000002")

    def test_an_order_starting_after_the_new_date_has_no_shortage(self):
        order = self.purchase()
        self.order_bracket(days=10)
        self.confirm(
            order,
            [
                {
                    "product_code": "SUP-STL",
                    "confirmed_qty": 100,
                    "confirmed_date": iso(self.now + timedelta(days=5)),
                }
            ],
        )
        self.assertFalse(self.open_shortages(order))

    def test_a_partial_confirmation_flags_quantity_and_price_and_opens_a_short_shortage(self):
        order = self.purchase()
        production = self.order_bracket(qty=10, days=3)
        event = self.confirm(
            order,
            [
                {"product_code": "SUP-STL", "confirmed_qty": 90, "price_unit": 4.4},
                {"product_code": "SUP-BLT", "confirmed_qty": 400},
            ],
        )
        self.assertEqual(event.state, "done", event.error)
        steel, bolt = self.line(order, self.steel), self.line(order, self.bolt)
        self.assertEqual(steel.supplier_state, "partial")
        self.assertEqual(steel.supplier_confirmed_price, 4.4)
        self.assertEqual(steel.price_unit, 4.0, "the buyer decides on a price change")
        self.assertIn("Quantity: 90", steel.supplier_deviation)
        self.assertIn("Price: 4.4", steel.supplier_deviation)
        self.assertEqual(bolt.supplier_state, "confirmed")
        self.assertFalse(bolt.has_supplier_deviation)
        self.assertTrue(order.has_supplier_deviation)
        self.assertIn(
            order, self.env["purchase.order"].search([("has_supplier_deviation", "=", True)])
        )
        shortage = self.open_shortages(order)
        self.assertEqual((shortage.reason, shortage.gap_qty), ("short", 10))
        self.assertEqual(shortage.production_ids, production)
        self.assertEqual(order.shortage_count, 1)

    def test_a_rejection_asks_the_buyer_to_resource_and_opens_shortages(self):
        order = self.purchase()
        production = self.order_bracket(qty=10, days=3)
        event = self.send("supplier.po.rejected", {"po_ref": order.name, "reason": "Mill closed"})
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(set(order.order_line.mapped("supplier_state")), {"rejected"})
        self.assertEqual(order.state, "purchase", "cancelling is the buyer's decision")
        self.assertEqual(len(order.activity_ids), 1)
        self.assertIn("Mill closed", order.activity_ids.note)
        shortages = self.open_shortages(order)
        self.assertEqual(
            sorted((s.product_id.default_code, s.reason, s.gap_qty) for s in shortages),
            [("BLT", "rejected", 40), ("STL", "rejected", 20)],
        )
        self.assertEqual(shortages.production_ids, production)

    def test_an_unknown_supplier_code_waits_for_a_mapping(self):
        order = self.purchase()
        event = self.confirm(order, [{"product_code": "X-STEEL", "confirmed_qty": 100}])
        self.assertBusinessError(event, "mapping_missing")
        exception = event.exception_id
        self.assertTrue(exception.can_create_mapping)
        action = exception.action_create_mapping()
        queue = JobQueue(self.env)
        self.env["mfg.integration.mapping.line"].with_context(**action["context"]).create(
            {"target_ref": f"product.product,{self.steel.id}"}
        )
        queue.perform_all(immediate_only=True)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.line(order, self.steel).supplier_confirmed_qty, 100)

    def test_unknown_or_unconfirmed_orders_and_foreign_products_are_business_errors(self):
        event = self.confirm(
            self.env["purchase.order"].new({"name": "P-NOPE"}),
            [{"product_code": "SUP-STL", "confirmed_qty": 1}],
        )
        self.assertBusinessError(event, "order_unknown")
        draft = self.env["purchase.order"].create(
            {
                "partner_id": self.supplier.id,
                "order_line": [(0, 0, {"product_id": self.steel.id, "product_qty": 5})],
            }
        )
        self.assertBusinessError(
            self.confirm(draft, [{"product_code": "SUP-STL", "confirmed_qty": 5}]),
            "order_not_open",
        )
        order = self.purchase(lines=[(self.steel, 100, 4.0)])
        self.assertBusinessError(
            self.confirm(order, [{"product_code": "SUP-BLT", "confirmed_qty": 5}]),
            "product_not_ordered",
        )
        # a later event of the same order waits behind the failed one; another order's goes
        other = self.purchase(lines=[(self.steel, 100, 4.0)])
        self.assertBusinessError(
            self.confirm(other, [{"line": 1, "product_code": "SUP-BLT", "confirmed_qty": 5}]),
            "line_mismatch",
        )
        self.assertFalse((order | other).order_line.filtered("supplier_state"))

    def test_orders_planned_moved_or_cancelled_after_a_confirmation_follow_the_supply(self):
        order = self.purchase()
        self.confirm(order, [{"product_code": "SUP-STL", "confirmed_qty": 100,
                              "confirmed_date": iso(self.now + timedelta(days=5))}])  # fmt: skip
        self.assertFalse(self.open_shortages(order))
        production = self.order_bracket(qty=10, days=3)
        shortage = self.open_shortages(order)
        self.assertEqual(shortage.production_ids, production)
        production.date_start = self.now + timedelta(days=8)
        self.assertEqual(shortage.state, "closed")
        production.date_start = self.now + timedelta(days=4)
        reopened = self.open_shortages(order)
        self.assertEqual((reopened.reason, reopened.gap_days), ("late", 1))
        production.action_cancel()
        self.assertFalse(self.open_shortages(order))

    def test_a_portal_that_does_not_own_purchase_orders_owned_elsewhere_is_refused(self):
        order = self.purchase()
        kind = self.env.ref("mfg_integration_procurement.record_kind_purchase_order")
        erp = self.env["mfg.integration.system"].create(
            {
                "name": "Group ERP",
                "code": "group_erp",
                "kind": "erp",
                "sor_kind_ids": [(4, kind.id)],
            }
        )
        event = self.confirm(order, [{"product_code": "SUP-STL", "confirmed_qty": 100}])
        self.assertBusinessError(event, "sor_conflict")
        self.assertIn("Group ERP", event.exception_id.name)
        self.assertFalse(self.line(order, self.steel).supplier_state)
        # the portal itself as the owner: accepted
        erp.sor_kind_ids = [(3, kind.id)]
        self.portal.sor_kind_ids = [(4, kind.id)]
        queue = JobQueue(self.env)
        event.action_retry()
        queue.perform_all(immediate_only=True)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.line(order, self.steel).supplier_state, "confirmed")
