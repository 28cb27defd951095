from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..handlers import production_completed
from ..services.production_rules import OVERPRODUCTION_TOLERANCE_PARAM
from .common import MesCase


@tagged("post_install", "-at_install")
class TestOrderReference(MesCase):
    def test_confirm_keeps_the_name_as_reference_and_backorders_inherit_it(self):
        draft = self.Production.create({"product_id": self.plate.id, "product_qty": 10})
        self.assertFalse(draft.mes_order_ref)
        draft.action_confirm()
        self.assertEqual(draft.mes_order_ref, draft.name)
        reference = draft.name
        event = self.send("mes.production.completed", {"production_ref": reference, "qty": 4})
        self.assertEqual(event.state, "done", event.error)
        first, backorder = self.chain(draft)
        self.assertEqual(first, draft)
        self.assertNotEqual(draft.name, reference, "a backorder renames the original order")
        self.assertEqual(backorder.mes_order_ref, reference)
        self.assertEqual((first.state, first.qty_produced), ("done", 4))
        self.assertEqual((backorder.state, backorder.product_qty), ("confirmed", 6))
        self.assertEqual(self.Production._mes_open_order(reference), backorder)

    def test_an_order_confirmed_before_references_existed_is_known_by_its_name(self):
        production = self.order(qty=5)
        production.mes_order_ref = False
        event = self.send("mes.production.completed", {"production_ref": production.name, "qty": 5})
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(
            (production.state, production.mes_order_ref), ("done", event.payload["production_ref"])
        )

    def test_unknown_and_closed_orders_are_planners_exceptions(self):
        unknown = self.send("mes.production.completed", {"production_ref": "NOPE/1", "qty": 1})
        self.assertBusinessError(unknown, "order_unknown", "missing_reference")
        self.assertIn("NOPE/1", unknown.exception_id.name)
        production = self.order(qty=2)
        production.action_cancel()
        closed = self.send(
            "mes.production.completed", {"production_ref": production.mes_order_ref, "qty": 1}
        )
        self.assertBusinessError(closed, "order_closed", "business_rule")


@tagged("post_install", "-at_install")
class TestProductionCompleted(MesCase):
    def test_partial_then_final_completion_books_the_whole_order(self):
        production = self.order(qty=10)
        reference = production.mes_order_ref
        self.send("mes.production.completed", {"production_ref": reference, "qty": 4})
        self.send(
            "mes.production.completed", {"production_ref": reference, "qty": 5, "final": True}
        )
        first, backorder = self.chain(production)
        self.assertEqual((first.state, first.qty_produced), ("done", 4))
        self.assertEqual((backorder.state, backorder.qty_produced), ("done", 5))
        self.assertEqual(len(self.chain(production)), 2, "a final report leaves no backorder")
        self.assertEqual(self.on_hand(self.plate), 9)
        # components backflushed per BoM line: 2 steel and 4 screws a plate
        self.assertEqual(self.on_hand(self.screw), 1000 - 36)

    def test_completion_with_lots_books_one_order_per_lot(self):
        production = self.order(self.bracket, qty=5)
        reference = production.mes_order_ref
        event = self.send(
            "mes.production.completed",
            {
                "production_ref": reference,
                "qty": 5,
                "lots": [{"lot": "B-1", "qty": 3}, {"lot": "B-2", "qty": 2}],
            },
        )
        self.assertEqual(event.state, "done", event.error)
        orders = self.chain(production)
        self.assertEqual(orders.mapped("state"), ["done", "done"])
        self.assertEqual(orders.mapped("lot_producing_id.name"), ["B-1", "B-2"])
        self.assertEqual(orders.mapped("qty_produced"), [3, 2])
        finished = orders.move_finished_ids.move_line_ids
        self.assertEqual(sorted(finished.mapped("lot_id.name")), ["B-1", "B-2"])
        lots = orders.lot_producing_id
        self.assertEqual([self.on_hand(self.bracket, lot) for lot in lots], [3, 2])

    def test_serials_each_close_an_order_of_one(self):
        gauge = self.env["product.product"].create(
            {"name": "Gauge", "default_code": "GAU", "is_storable": True, "tracking": "serial"}
        )
        production = self.Production.create({"product_id": gauge.id, "product_qty": 3})
        production.action_confirm()
        serials = [{"lot": "SN-1", "qty": 1}, {"lot": "SN-2", "qty": 1}]
        event = self.report("mes.production.completed", production, qty=2, lots=serials)
        self.assertEqual(event.state, "done", event.error)
        orders = self.chain(production)
        self.assertEqual(orders.mapped("state"), ["done", "done", "confirmed"])
        self.assertEqual(orders.mapped("lot_producing_id.name"), ["SN-1", "SN-2"])
        self.assertEqual(orders[2].product_qty, 1)
        wrong = self.report(
            "mes.production.completed", production, qty=1, lots=[{"lot": "SN-3", "qty": 0.5}]
        )
        self.assertBusinessError(wrong, "lot_required")

    def test_a_completion_retried_after_a_technical_error_produces_once(self):
        production = self.order(qty=10)
        real = production_completed._mark_done
        calls = []

        def fail_once_after_booking(*args, **kwargs):
            real(*args, **kwargs)
            calls.append(args)
            if len(calls) == 1:
                raise ConnectionError("the database connection dropped")

        with patch.object(production_completed, "_mark_done", fail_once_after_booking):
            event = self.report("mes.production.completed", production, qty=4)
            self.assertEqual((event.state, event.error_code), ("queued", "technical_error"))
            self.assertEqual(self.chain(production).mapped("state"), ["confirmed"])
            event._process_chunk()
        self.assertEqual(event.state, "done")
        self.assertEqual(self.chain(production).mapped("qty_produced"), [4, 0])
        self.assertEqual(self.on_hand(self.plate), 4)

    def test_a_tracked_product_needs_its_lot(self):
        production = self.order(self.bracket, qty=5)
        event = self.send(
            "mes.production.completed", {"production_ref": production.mes_order_ref, "qty": 5}
        )
        self.assertBusinessError(event, "lot_required", "value")
        self.assertEqual(production.state, "confirmed")

    def test_overproduction_beyond_the_tolerance_is_refused(self):
        production = self.order(qty=10)
        reference = production.mes_order_ref
        event = self.send("mes.production.completed", {"production_ref": reference, "qty": 12})
        self.assertBusinessError(event, "over_production", "value")
        self.assertIn("12", event.exception_id.name)
        self.assertEqual((production.state, production.qty_produced), ("confirmed", 0))
        self.env["ir.config_parameter"].set_param(OVERPRODUCTION_TOLERANCE_PARAM, "25")
        other = self.order(qty=10)
        # the extra steel comes from a lot the MES names (Odoo reserved only the planned 20)
        self.send(
            "mes.material.consumed",
            {"production_ref": other.mes_order_ref, "product_code": "STL", "qty": 24, "lot": "S-1"},
        )
        event = self.send(
            "mes.production.completed", {"production_ref": other.mes_order_ref, "qty": 12}
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual((other.state, other.qty_produced), ("done", 12))

    def test_quantity_in_another_unit_is_converted_or_refused(self):
        production = self.order(qty=24)
        reference = production.mes_order_ref
        event = self.send(
            "mes.production.completed",
            {"production_ref": reference, "qty": 1, "uom": self.dozen.name},
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.chain(production)[0].qty_produced, 12)
        unmapped = self.send(
            "mes.production.completed", {"production_ref": reference, "qty": 1, "uom": "BOX"}
        )
        self.assertBusinessError(unmapped, "mapping_missing")
        self.assertEqual(unmapped.exception_id.mapping_kind, "uom")

    def test_unit_of_another_category_is_refused(self):
        production = self.order(qty=5)
        event = self.send(
            "mes.production.completed",
            {"production_ref": production.mes_order_ref, "qty": 1, "uom": "kg"},
        )
        self.assertBusinessError(event, "uom_category")
        self.assertEqual(production.state, "confirmed")

    def test_the_same_completion_twice_produces_once(self):
        production = self.order(qty=10)
        data = {"production_ref": production.mes_order_ref, "qty": 4}
        self.send("mes.production.completed", data, event_id="done-once")
        self.send("mes.production.completed", data, event_id="done-once")
        self.assertEqual(self.chain(production).mapped("qty_produced"), [4, 0])
        self.assertEqual(self.on_hand(self.plate), 4)


@tagged("post_install", "-at_install")
class TestWorkOrderAndProgress(MesCase):
    def test_start_runs_the_work_order_of_the_reported_operation(self):
        production = self.order(qty=3)
        event = self.report(
            "mes.workorder.started",
            production,
            product_code="PLT",
            qty_planned=3,
            machine="M1",
            operation="Assembly",
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.workorder_ids.state, "progress")
        self.assertEqual(production.state, "progress")
        again = self.report("mes.workorder.started", production, product_code="PLT", qty_planned=3)
        self.assertEqual(again.state, "done", "starting a running work order changes nothing")
        self.assertEqual(
            len(production.workorder_ids.time_ids.filtered(lambda t: not t.date_end)), 1
        )

    def _stop(self, started_at):
        return self.env["mrp.workcenter.productivity"].create(
            {
                "workcenter_id": self.press.id,
                "loss_id": self.env.ref("mrp.block_reason1").id,
                "date_start": started_at,
                "description": "fault reported by the PLC",
            }
        )

    def test_a_start_on_a_stopped_machine_ends_the_stop_when_the_start_happened(self):
        stop = self._stop(fields.Datetime.now() - timedelta(hours=1))
        self.assertEqual(self.press.working_state, "blocked")
        production = self.order(qty=3)
        event = self.report(
            "mes.workorder.started", production, product_code="PLT", qty_planned=3, machine="M1"
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.workorder_ids.state, "progress")
        self.assertEqual(stop.date_end, event.occurred_at, "the stop ends at the MES's start")
        self.assertIn(production.mes_order_ref, stop.description)
        self.assertIn("fault reported by the PLC", stop.description)

    def test_a_stop_that_began_after_the_start_holds_the_start_until_it_ends(self):
        stop = self._stop(fields.Datetime.now() + timedelta(minutes=5))
        production = self.order(qty=3)
        event = self.report(
            "mes.workorder.started", production, product_code="PLT", qty_planned=3, machine="M1"
        )
        self.assertEqual((event.state, event.wait_reason), ("waiting", "prerequisite"))
        self.assertIn("Press 1", event.error)
        self.assertFalse(stop.date_end, "a stop that began later is left to its own end")
        self.assertEqual(production.workorder_ids.state, "ready")
        # the stop's end arrives: the start applies on the next try
        stop.date_end = fields.Datetime.now() + timedelta(minutes=20)
        self.assertNotEqual(self.press.working_state, "blocked")
        event._process_chunk()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.workorder_ids.state, "progress")

    def test_a_stop_that_never_ends_makes_the_start_a_planners_exception(self):
        self._stop(fields.Datetime.now() + timedelta(minutes=5))
        production = self.order(qty=3)
        event = self.report(
            "mes.workorder.started", production, product_code="PLT", qty_planned=3, machine="M1"
        )
        event.wait_until = fields.Datetime.now() - timedelta(seconds=1)
        event._process_chunk()
        self.assertBusinessError(event, "workcenter_blocked")
        self.assertIn("Press 1", event.exception_id.name)
        self.assertIn("end the stop", event.exception_id.suggested_action)

    def test_a_start_of_an_order_without_routing_is_recorded_without_effect(self):
        production = self.order(qty=3)
        production.workorder_ids.unlink()
        event = self.report("mes.workorder.started", production, product_code="PLT", qty_planned=3)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(
            (event.result_model, event.result_res_id), (production._name, production.id)
        )

    def test_an_operation_the_order_does_not_have_is_refused(self):
        production = self.order(qty=3)
        event = self.report(
            "mes.workorder.started", production, product_code="PLT", qty_planned=3, operation="X"
        )
        self.assertBusinessError(event, "operation_unknown", "missing_reference")
        self.assertIn("operation 'X'", event.exception_id.name)
        self.assertEqual(production.workorder_ids.state, "ready")

    def test_progress_sets_the_quantity_producing_without_closing(self):
        production = self.order(qty=10)
        reference = production.mes_order_ref
        event = self.send("mes.production.progress", {"production_ref": reference, "qty_done": 3})
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual((production.state, production.qty_producing), ("progress", 3))
        done = self.send("mes.production.completed", {"production_ref": reference, "qty": 4})
        self.assertEqual(done.state, "done", done.error)
        backorder = self.chain(production)[1]
        self.send("mes.production.progress", {"production_ref": reference, "qty_done": 7})
        self.assertEqual((backorder.state, backorder.qty_producing), ("progress", 3))
        self.assertEqual(production.qty_produced, 4)
        elsewhere = self.report("mes.production.progress", production, qty_done=8, operation="X")
        self.assertBusinessError(elsewhere, "operation_unknown")
        self.assertEqual(backorder.qty_producing, 3)
