from odoo.tests import tagged

from .common import MesCase


@tagged("post_install", "-at_install")
class TestMaterialConsumed(MesCase):
    def test_reported_lot_is_consumed_and_the_rest_backflushed(self):
        production = self.order(qty=3)
        reference = production.mes_order_ref
        event = self.send(
            "mes.material.consumed",
            {"production_ref": reference, "product_code": "STL", "qty": 4, "lot": "S-1"},
        )
        self.assertEqual(event.state, "done", event.error)
        self.send(
            "mes.material.consumed",
            {"production_ref": reference, "product_code": "STL", "qty": 3, "lot": "S-1"},
        )
        steel = production.move_raw_ids.filtered(lambda m: m.product_id == self.steel)
        self.assertEqual(steel.move_line_ids.mapped("lot_id"), self.lot_s1)
        self.assertEqual(steel.quantity, 7)
        self.assertTrue(steel.picked and steel.manual_consumption)
        done = self.send(
            "mes.production.completed", {"production_ref": reference, "qty": 3, "final": True}
        )
        self.assertEqual(done.state, "done", done.error)
        self.assertEqual(steel.state, "done")
        self.assertEqual(steel.quantity, 7, "the MES's figure, not the BoM's 6")
        self.assertEqual(self.on_hand(self.steel, self.lot_s1), 93)
        self.assertEqual(self.on_hand(self.steel, self.lot_s2), 1, "no other lot touched")
        screws = production.move_raw_ids.filtered(lambda m: m.product_id == self.screw)
        self.assertEqual((screws.state, screws.quantity), ("done", 12))

    def test_consumption_before_a_partial_completion_stays_on_the_completed_part(self):
        production = self.order(qty=10)
        self.report("mes.material.consumed", production, product_code="STL", qty=5, lot="S-1")
        done = self.report("mes.production.completed", production, qty=2)
        self.assertEqual(done.state, "done", done.error)
        first, backorder = self.chain(production)
        steel = first.move_raw_ids.filtered(lambda m: m.product_id == self.steel)
        self.assertEqual((steel.state, steel.quantity), ("done", 5))
        self.assertEqual(steel.move_line_ids.lot_id, self.lot_s1)
        rest = backorder.move_raw_ids.filtered(lambda m: m.product_id == self.steel)
        self.assertEqual((rest.state, rest.product_uom_qty), ("assigned", 16))
        self.assertEqual(self.on_hand(self.steel, self.lot_s1), 95)

    def test_a_lot_not_on_hand_is_refused_not_driven_negative(self):
        production = self.order(qty=3)
        event = self.report(
            "mes.material.consumed", production, product_code="STL", qty=5, lot="S-2"
        )
        self.assertBusinessError(event, "lot_not_available")
        self.assertIn("S-2", event.exception_id.name)
        self.assertIn("4", event.exception_id.name, "how much is missing")
        self.assertEqual(self.on_hand(self.steel, self.lot_s2), 1)
        later = self.report(
            "mes.material.consumed", production, product_code="STL", qty=1, lot="S-1"
        )
        self.assertEqual(later.state, "waiting", "later events of the order wait behind it")

    def test_the_source_location_comes_from_the_mes_code_and_must_hold_the_lot(self):
        shelf = self.env["stock.location"].create(
            {"name": "Shelf 9", "location_id": self.stock.id, "barcode": "SHELF-9"}
        )
        self.env["stock.quant"]._update_available_quantity(self.steel, shelf, 3, lot_id=self.lot_s2)
        production = self.order(qty=3)
        taken = self.report(
            "mes.material.consumed",
            production,
            product_code="STL",
            qty=3,
            lot="S-2",
            location="SHELF-9",
        )
        self.assertEqual(taken.state, "done", taken.error)
        steel = production.move_raw_ids.filtered(lambda m: m.product_id == self.steel)
        self.assertEqual(steel.move_line_ids.location_id, shelf)
        other = self.order(qty=3)
        refused = self.report(
            "mes.material.consumed", other, product_code="STL", qty=1, lot="S-1", location="SHELF-9"
        )
        self.assertBusinessError(refused, "lot_not_available")
        self.assertIn("Shelf 9", refused.exception_id.name)
        unknown = self.report(
            "mes.material.consumed", self.order(qty=1), product_code="STL", qty=1, location="X-1"
        )
        self.assertBusinessError(unknown, "mapping_missing")
        self.assertEqual(unknown.exception_id.mapping_kind, "location")

    def test_a_lot_odoo_does_not_know_is_refused(self):
        production = self.order(qty=3)
        event = self.report(
            "mes.material.consumed", production, product_code="STL", qty=1, lot="S-404"
        )
        self.assertBusinessError(event, "lot_not_available")
        self.assertFalse(self.env["stock.lot"].search([("name", "=", "S-404")]))

    def test_a_component_the_order_does_not_use_is_refused(self):
        production = self.order(qty=3)
        event = self.report("mes.material.consumed", production, product_code="PLT", qty=1)
        self.assertBusinessError(event, "component_not_in_order")

    def test_an_unmapped_product_code_asks_for_a_mapping(self):
        production = self.order(qty=3)
        event = self.report("mes.material.consumed", production, product_code="MES-STEEL", qty=1)
        self.assertBusinessError(event, "mapping_missing")
        self.assertEqual(event.exception_id.mapping_kind, "product")
        mapping = self.env["mfg.integration.mapping"].create(
            {"system_id": self.system.id, "kind": "product"}
        )
        mapping.line_ids = [
            (
                0,
                0,
                {
                    "external_code": "MES-STEEL",
                    "target_ref": f"product.product,{self.screw.id}",
                },
            )
        ]
        self.assertEqual(event._mes_product("MES-STEEL"), self.screw)


@tagged("post_install", "-at_install")
class TestScrapReported(MesCase):
    def test_scrap_is_booked_against_the_order_with_reason_and_lot(self):
        production = self.order(qty=5)
        reason = self.env["stock.scrap.reason.tag"].create({"name": "Scratch"})
        event = self.send(
            "mes.scrap.reported",
            {
                "production_ref": production.mes_order_ref,
                "product_code": "STL",
                "qty": 2,
                "reason": "SCRATCH",
                "lot": "S-1",
            },
        )
        self.assertEqual(event.state, "done", event.error)
        scrap = self.env["stock.scrap"].search([("production_id", "=", production.id)])
        self.assertEqual(
            (scrap.state, scrap.product_id, scrap.scrap_qty, scrap.lot_id),
            ("done", self.steel, 2, self.lot_s1),
        )
        self.assertEqual(scrap.scrap_reason_tag_ids, reason)
        self.assertIn(event.event_uid, scrap.origin)
        self.assertEqual(self.on_hand(self.steel, self.lot_s1), 98)

    def test_scrap_of_the_product_defaults_to_the_orders_product(self):
        production = self.order(qty=5)
        self.send(
            "mes.production.completed", {"production_ref": production.mes_order_ref, "qty": 2}
        )
        self.send(
            "mes.scrap.reported",
            {"production_ref": production.mes_order_ref, "qty": 1, "reason": "DENT"},
        )
        backorder = self.chain(production)[1]
        scrap = self.env["stock.scrap"].search([("production_id", "=", backorder.id)])
        self.assertEqual((scrap.product_id, scrap.scrap_qty, scrap.state), (self.plate, 1, "done"))
        self.assertIn("DENT", scrap.origin)
        self.assertEqual(self.on_hand(self.plate), 1)
