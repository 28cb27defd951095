from odoo.exceptions import UserError, ValidationError

from ..models.mfg_quality_hold import LotOnHoldError
from .common import QualityCase


class TestHolds(QualityCase):
    def test_failed_critical_inspection_holds_the_lot_and_tells_the_mes(self):
        event = self.inspect(self.lot_s1, 2.31, result="fail")
        self.assertEqual(event.state, "done", event.error)
        check = self.env["mfg.quality.check"].search([("event_id", "=", event.id)])
        self.assertEqual((check.result, check.critical, check.measured_value), ("fail", True, 2.31))
        hold = self.Hold.search([("lot_id", "=", self.lot_s1.id)])
        self.assertEqual(hold.state, "held")
        self.assertEqual(check.hold_id, hold)
        self.assertTrue(self.lot_s1.mfg_on_hold)
        self.assertFalse(self.lot_s2.mfg_on_hold)
        # the stock is in quarantine, still on hand in the warehouse
        self.assertEqual(self.on_hand(self.lot_s1, self.stock), 0)
        self.assertEqual(self.on_hand(self.lot_s1, self.quarantine()), 100)
        self.assertEqual(hold.quantity, 100)
        self.assertEqual(hold.move_ids.location_dest_id, self.quarantine())
        # one outbound event to the subscribed MES, carrying SAP's goods movement fields
        placed = self.outbound("quality.hold.placed")
        self.assertEqual(len(placed), 1)
        self.assertEqual(placed.subject, "S-1")
        self.assertEqual(placed.correlation_id, hold.correlation_id)
        data = placed.payload
        self.assertEqual(
            (data["batch"], data["material"], data["movement_type"], data["quantity"]),
            ("S-1", "QSTL", "344", 100),
        )
        self.assertEqual(data["stock_type_to"], "blocked")
        self.assertEqual(data["items"][0]["quantity"], 100)
        hold.invalidate_recordset()
        self.assertIn(placed, hold.outbound_event_ids)
        # delivered by the outbox: the hold's form says where
        self.assertEqual(placed.state, "done", placed.error)
        self.assertEqual(hold.delivery_summary, "delivered to Test MES")
        sent = [body for _headers, body, _problem in self.receiver.requests]
        self.assertIn("S-1", [body.get("data", {}).get("batch") for body in sent])
        self.assertTrue(any("quarantine" in m.body for m in hold.message_ids))
        self.assertTrue(any(hold.name in (m.body or "") for m in self.lot_s1.message_ids))

    def test_value_outside_the_points_limits_fails_even_if_sent_as_pass(self):
        self.inspect(self.lot_s1, 2.5, result="pass")
        self.assertTrue(self.lot_s1.mfg_on_hold)
        self.inspect(self.lot_s2, 2.0, result="pass")
        self.assertFalse(self.lot_s2.mfg_on_hold)
        self.assertEqual(self.lot_s2.mfg_check_count, 1)

    def test_a_non_critical_failure_records_without_holding(self):
        self.point.critical = False
        self.inspect(self.lot_s1, 2.5, result="fail")
        self.assertFalse(self.lot_s1.mfg_on_hold)
        # the sender may mark a failure critical itself
        self.inspect(self.lot_s1, 2.6, result="fail", critical=True)
        self.assertTrue(self.lot_s1.mfg_on_hold)

    def test_unknown_lot_is_a_business_exception(self):
        event = self.send(
            "quality.lot.held", {"lot": "NOPE", "product_code": "QSTL", "reason": "bad"}
        )
        self.assertBusinessError(event, "lot_unknown")
        self.assertFalse(self.Hold.search([]).filtered(lambda h: h.lot_id.name == "NOPE"))

    def test_held_lot_cannot_be_consumed_by_an_order(self):
        production = self.env["mrp.production"].create(
            {"product_id": self.frame.id, "product_qty": 5, "bom_id": self.bom.id}
        )
        production.action_confirm()
        production.action_assign()
        move = production.move_raw_ids
        self.assertEqual(move.move_line_ids.lot_id, self.lot_s1)
        self.inspect(self.lot_s1, 2.4, result="fail")
        # the hold took back the order's reservation of S-1; S-2 is reserved instead
        self.assertEqual(move.move_line_ids.lot_id, self.lot_s2)
        self.assertEqual(move.quantity, 10)
        self.assertTrue(any("went on hold" in (m.body or "") for m in production.message_ids))
        # and a person cannot pick it by hand
        with self.assertRaises(LotOnHoldError) as caught:
            self.env["stock.move.line"].create(
                dict(
                    move._prepare_move_line_vals(quantity=2),
                    lot_id=self.lot_s1.id,
                    location_id=self.quarantine().id,
                )
            )
        self.assertEqual(caught.exception.reason_code, "lot_on_hold")
        self.assertIn("S-1", str(caught.exception))
        self.assertIn("consumed by", str(caught.exception))

    def test_held_lot_cannot_be_shipped(self):
        self.inspect(self.lot_s1, 2.4, result="fail")
        picking = self.delivery(self.steel, 40)
        picking.action_assign()
        # quarantined stock is never reserved: only S-2's 30 is
        self.assertEqual(picking.move_ids.move_line_ids.lot_id, self.lot_s2)
        self.assertEqual(picking.move_ids.quantity, 30)
        with self.assertRaises(LotOnHoldError):
            picking.move_ids.move_line_ids.lot_id = self.lot_s1
        # released, the lot ships
        self.Hold.search([("lot_id", "=", self.lot_s1.id)]).action_release()
        picking.do_unreserve()
        picking.action_assign()
        self.assertEqual(picking.move_ids.quantity, 40)
        picking.move_ids.picked = True
        picking.with_context(skip_backorder=True).button_validate()
        self.assertEqual(picking.state, "done")

    def test_release_by_event_gives_the_stock_back_and_unblocks(self):
        self.inspect(self.lot_s1, 2.4, result="fail")
        hold = self.Hold.search([("lot_id", "=", self.lot_s1.id)])
        event = self.send(
            "quality.lot.released",
            {"lot": "S-1", "product_code": "QSTL", "disposition": "use_as_is", "ncr": "Q-7"},
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(hold.state, "released")
        self.assertFalse(self.lot_s1.mfg_on_hold)
        self.assertTrue(hold.released_by_id)
        self.assertTrue(hold.released_at)
        self.assertEqual(self.on_hand(self.lot_s1, self.stock), 100)
        self.assertEqual(self.on_hand(self.lot_s1, self.quarantine()), 0)
        released = self.outbound("quality.hold.released")
        self.assertEqual(len(released), 1)
        self.assertEqual(
            (released.payload["movement_type"], released.payload["disposition"]),
            ("343", "use_as_is"),
        )
        self.assertEqual(released.causation_id, event.event_uid)
        # an order consumes it again, to the end
        production = self.env["mrp.production"].create(
            {"product_id": self.frame.id, "product_qty": 10, "bom_id": self.bom.id}
        )
        production.action_confirm()
        production.action_assign()
        self.assertIn(self.lot_s1, production.move_raw_ids.move_line_ids.lot_id)
        production.lot_producing_id = self.env["stock.lot"].create(
            {"name": "F-1", "product_id": self.frame.id}
        )
        production.qty_producing = 10
        production.move_raw_ids.picked = True
        production.button_mark_done()
        self.assertEqual(production.state, "done")

    def test_hold_sent_twice_keeps_one_hold(self):
        data = {"lot": "S-2", "product_code": "QSTL", "reason": "Supplier recall"}
        self.send("quality.lot.held", data)
        self.send("quality.lot.held", data)
        holds = self.Hold.search([("lot_id", "=", self.lot_s2.id)])
        self.assertEqual(len(holds), 1)
        self.assertEqual(holds.system_id, self.qms)
        self.assertEqual(len(self.outbound("quality.hold.placed")), 1)
        self.assertTrue(any("Hold requested again" in (m.body or "") for m in holds.message_ids))

    def test_scrap_from_the_hold_form(self):
        self.inspect(self.lot_s2, 2.4, result="fail")
        hold = self.Hold.search([("lot_id", "=", self.lot_s2.id)])
        hold.action_scrap()
        self.assertEqual(hold.state, "scrapped")
        scrap = self.env["stock.scrap"].search([("origin", "=", hold.name)])
        self.assertEqual((scrap.state, scrap.scrap_qty, scrap.lot_id), ("done", 30, self.lot_s2))
        self.assertEqual(self.on_hand(self.lot_s2, self.quarantine()), 0)
        self.assertEqual(self.outbound("quality.hold.released").payload["movement_type"], "555")
        with self.assertRaises(UserError):
            hold.action_release()

    def test_only_the_system_of_record_of_holds_may_hold_or_release(self):
        self.qms.sor_kind_ids = False  # Odoo owns holds
        data = {"lot": "S-2", "product_code": "QSTL", "reason": "recall"}
        event = self.send("quality.lot.held", data)
        self.assertBusinessError(event, "sor_conflict")
        self.assertFalse(self.lot_s2.mfg_on_hold)
        # an inspection is a fact, not a hold: its failure holds the lot all the same
        self.inspect(self.lot_s1, 2.5, result="fail")
        self.assertTrue(self.lot_s1.mfg_on_hold)
        released = self.send("quality.lot.released", {"lot": "S-1", "product_code": "QSTL"})
        self.assertBusinessError(released, "sor_conflict")
        self.assertIn("Odoo is the system of record", released.exception_id.name)
        self.assertTrue(self.lot_s1.mfg_on_hold)

    def test_a_hold_created_on_the_form_is_enforced_too(self):
        hold = self.Hold.create({"lot_id": self.lot_s2.id, "reason": "Found a crack"})
        self.assertTrue(self.lot_s2.mfg_on_hold)
        self.assertEqual(self.on_hand(self.lot_s2, self.quarantine()), 30)
        self.assertEqual(hold.quantity, 30)
        self.assertEqual(self.outbound("quality.hold.placed").payload["lot"], "S-2")
        with self.assertRaises(ValidationError):
            self.Hold.create({"lot_id": self.lot_s2.id, "reason": "Again"})
