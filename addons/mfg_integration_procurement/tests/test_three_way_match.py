from odoo import fields
from odoo.tests import tagged

from .common import ProcurementCase


@tagged("post_install", "-at_install")
class TestThreeWayMatch(ProcurementCase):
    def bill(self, order, quantities_and_prices):
        order.action_create_invoice()
        bill = order.invoice_ids.filtered(lambda move: move.state == "draft")
        bill.invoice_date = fields.Date.today()
        for line in bill.invoice_line_ids:
            qty, price = quantities_and_prices[line.product_id]
            line.write({"quantity": qty, "price_unit": price})
        bill.action_post()
        return bill

    def rows(self, order):
        self.env.flush_all()
        self.env["mfg.procurement.match"].invalidate_model()  # a view: no cache to trust
        return {
            row.product_id: row
            for row in self.env["mfg.procurement.match"].search([("order_id", "=", order.id)])
        }

    def test_lines_beyond_tolerance_are_to_check(self):
        order = self.purchase()
        rows = self.rows(order)
        steel = rows[self.steel]
        self.assertEqual(
            (steel.qty_ordered, steel.qty_received, steel.match_state), (100, 0, "open")
        )
        self.receive(self.receipt(order), {self.steel: [("H-1", 100)], self.bolt: [(None, 400)]})
        # steel billed as ordered; bolts billed 420 of 400 received, 20% dearer
        self.bill(order, {self.steel: (100, 4.0), self.bolt: (420, 0.12)})
        rows = self.rows(order)
        steel, bolt = rows[self.steel], rows[self.bolt]
        self.assertEqual(
            (steel.qty_received, steel.qty_invoiced, steel.price_invoiced, steel.match_state),
            (100, 100, 4.0, "matched"),
        )
        self.assertEqual((bolt.qty_invoiced, bolt.qty_billed_not_received), (420, 20))
        self.assertAlmostEqual(bolt.price_invoiced, 0.12)
        self.assertEqual(bolt.price_difference_percent, 20)
        self.assertTrue(bolt.over_billed and bolt.price_mismatch)
        self.assertFalse(bolt.over_received)
        self.assertEqual(bolt.match_state, "check")
        to_check = self.env["mfg.procurement.match"].search(
            [("match_state", "=", "check"), ("order_id", "=", order.id)]
        )
        self.assertEqual(to_check.product_id, self.bolt)

    def test_tolerances_are_system_parameters(self):
        order = self.purchase(lines=[(self.bolt, 400, 1.0)])
        self.receive(self.receipt(order), {self.bolt: [(None, 400)]})
        self.bill(order, {self.bolt: (400, 1.04)})
        self.assertEqual(self.rows(order)[self.bolt].match_state, "check")  # 4% > 2%
        self.env["ir.config_parameter"].set_param(
            "mfg_integration_procurement.match_price_tolerance_percent", "5"
        )
        self.assertEqual(self.rows(order)[self.bolt].match_state, "matched")
