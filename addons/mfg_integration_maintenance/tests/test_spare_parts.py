from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue

from .common import CmmsCase


@tagged("post_install", "-at_install")
class TestSpareParts(CmmsCase):
    def consume(self, part_code, qty, reference="C-1"):
        return self.send(
            "cmms.part.consumed",
            {"workorder_ref": "WO-1", "consumption_ref": reference, "part_code": part_code,
             "qty": qty},
        )  # fmt: skip

    def test_consumption_under_the_reorder_point_asks_the_vendor_for_a_quotation(self):
        request = self.create_order()
        event = self.consume("BRG", 5)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.quantity(self.bearing, self.stock), 5)
        self.assertEqual(request.parts_cost, 60.0)
        lines = self.env["purchase.order.line"].search([("product_id", "=", self.bearing.id)])
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines.order_id.partner_id, self.vendor)
        self.assertEqual(lines.order_id.state, "draft")
        self.assertEqual(lines.product_qty, 15)  # up to the maximum (20) from 5

    def test_a_part_to_reorder_without_a_vendor_is_a_business_exception(self):
        self.create_order()
        event = self.consume("FLT", 2)
        self.assertBusinessError(event, "part_no_vendor")
        self.assertIn("vendor", event.exception_id.suggested_action)
        self.assertEqual(self.quantity(self.filter, self.stock), 3)  # nothing posted
        self.filter.seller_ids = [(0, 0, {"partner_id": self.vendor.id, "price": 28.0})]
        queue = JobQueue(self.env)
        event.exception_id.action_retry()
        queue.perform_all(immediate_only=True)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.quantity(self.filter, self.stock), 1)
        line = self.env["purchase.order.line"].search([("product_id", "=", self.filter.id)])
        self.assertEqual(line.product_qty, 4)

    def test_an_unmapped_part_code_opens_an_exception_fixed_by_a_mapping(self):
        self.create_order()
        event = self.consume("SKF-6204-2RS", 1)
        self.assertBusinessError(event, "mapping_missing")
        exception = event.exception_id
        self.assertTrue(exception.can_create_mapping)
        self.assertEqual(exception.external_code, "SKF-6204-2RS")
        action = exception.action_create_mapping()
        queue = JobQueue(self.env)
        self.env["mfg.integration.mapping.line"].with_context(**action["context"]).create(
            {"target_ref": f"product.product,{self.bearing.id}"}
        )
        queue.perform_all(immediate_only=True)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.quantity(self.bearing, self.stock), 9)

    def test_a_shortage_is_a_business_error_not_a_negative_quant(self):
        self.create_order()
        event = self.consume("BRG", 11)
        self.assertBusinessError(event, "part_not_available")
        self.assertEqual(self.quantity(self.bearing, self.stock), 10)
        self.assertFalse(self.env["stock.move"].search([("maintenance_kind", "=", "consumption")]))

    def test_a_reservation_sent_again_sets_its_quantity(self):
        request = self.create_order()
        data = {"workorder_ref": "WO-1", "reservation_ref": "R-1", "part_code": "BRG", "qty": 4}
        self.send("cmms.part.reserved", data)
        self.send("cmms.part.reserved", dict(data, qty=2))
        self.assertEqual(len(request.part_move_ids), 1)
        self.assertEqual(request.part_move_ids.product_uom_qty, 2)
        self.assertEqual(request.part_move_ids.quantity, 2)
        self.assertEqual(self.bearing.free_qty, 8)

    def test_consumption_sent_twice_is_posted_once(self):
        request = self.create_order()
        self.consume("BRG", 2)
        self.consume("BRG", 2)  # the CMMS resends it (a new event id, the same reference)
        self.assertEqual(self.quantity(self.bearing, self.stock), 8)
        self.assertEqual(request.parts_cost, 24.0)

    def test_parts_issued_by_the_storekeeper_are_consumed_from_the_maintenance_location(self):
        request = self.create_order()
        self.send(
            "cmms.part.reserved",
            {"workorder_ref": "WO-1", "reservation_ref": "R-1", "part_code": "BRG", "qty": 3},
        )
        picking = request.part_picking_ids
        picking.move_ids.picked = True
        picking.button_validate()  # the storekeeper hands the three bearings out
        self.assertEqual(self.quantity(self.bearing, self.maintenance_location), 3)
        event = self.consume("BRG", 2)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.quantity(self.bearing, self.maintenance_location), 1)
        self.assertEqual(self.quantity(self.bearing, self.stock), 7)
        self.assertEqual(self.quantity(self.bearing, self.consumption_location), 2)
        self.assertEqual(request.parts_cost, 24.0)
