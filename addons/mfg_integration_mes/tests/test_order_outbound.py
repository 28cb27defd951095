from datetime import timedelta

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.receiver import RealTimeouts, Receiver

from .common import MesCase

OUTBOUND = ("mes.order.released", "mes.order.changed", "mes.order.cancelled", "mes.order.closed")


@tagged("post_install", "-at_install")
class TestOrderOutbound(RealTimeouts, MesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver()
        cls.receiver.__enter__()
        cls.addClassCleanup(cls.receiver.__exit__)
        contracts = cls.env["mfg.integration.contract"].search(
            [("code", "in", OUTBOUND), ("state", "=", "active")]
        )
        cls.scheduler = cls.env["mfg.integration.system"].create(
            {
                "name": "MES scheduler",
                "code": "mes_scheduler",
                "allowed_contract_ids": contracts.ids,
                "outbound_adapter": "webhook",
                "outbound_url": cls.receiver.url,
                "signing_secret": cls.receiver.secret,
                "outbound_parallel": 1,
            }
        )

    def outbound(self, production):
        return self.Event.search(
            [("direction", "=", "outbound"), ("subject", "=", production.mes_order_ref)],
            order="sequence",
        )

    def test_release_change_and_cancel_reach_the_mes_in_order(self):
        production = self.order(self.bracket, qty=5)
        production.product_qty = 8
        production.action_cancel()
        events = self.outbound(production)
        self.assertEqual(
            events.mapped("event_type"),
            ["mes.order.released", "mes.order.changed", "mes.order.cancelled"],
        )
        self.assertEqual(
            events.mapped("sequence"), ["000000000001", "000000000002", "000000000003"]
        )
        self.assertEqual(set(events.system_id.mapped("code")), {"mes_scheduler"})
        released = events[0].payload
        self.assertEqual(released["production_ref"], production.mes_order_ref)
        self.assertEqual((released["product_code"], released["qty"]), ("BRK", 5))
        self.assertEqual(released["lot_tracking"], "lot")
        self.assertEqual(
            sorted((c["product_code"], c["qty"]) for c in released["components"]),
            [("SCR", 20), ("STL", 10)],
        )
        # the lots Odoo reserved, for the MES to stage: steel from lot S-1, screws untracked
        lots = {c["product_code"]: c.get("lots") for c in released["components"]}
        self.assertEqual(lots, {"STL": [{"lot": "S-1", "qty": 10}], "SCR": None})
        self.assertEqual(events[0].contract_version, "1.2")
        self.assertEqual(
            [(o["workcenter"], o["name"]) for o in released["operations"]], [("M1", "Assembly")]
        )
        self.assertIn("date_planned_start", released)
        self.assertEqual(events[1].payload["qty"], 8)
        self.Event.sudo()._dispatch_system(self.scheduler.id)
        received = self.receiver.events()
        self.assertEqual(
            [event["type"] for event in received],
            ["mes.order.released", "mes.order.changed", "mes.order.cancelled"],
        )
        self.assertEqual({event["subject"] for event in received}, {production.mes_order_ref})
        self.assertEqual(set(events.mapped("state")), {"done"})

    def test_new_planned_dates_are_sent_but_unchanged_values_are_not(self):
        production = self.order(qty=4)
        production.date_start = production.date_start + timedelta(days=2)
        production.product_qty = 4
        changes = self.outbound(production).filtered(lambda e: e.event_type == "mes.order.changed")
        self.assertEqual(len(changes), 1)
        self.assertEqual(
            changes.payload["date_planned_start"],
            production.date_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def test_a_partial_completion_is_not_an_order_change(self):
        production = self.order(qty=10)
        self.report("mes.production.completed", production, qty=4)
        self.assertEqual(self.outbound(production).mapped("event_type"), ["mes.order.released"])
        backorder = self.chain(production)[1]
        backorder.qty_producing = 2
        backorder._set_qty_producing()
        backorder.with_context(
            skip_backorder=True, mo_ids_to_backorder=backorder.ids
        ).button_mark_done()
        self.assertEqual(len(self.chain(production)), 3, "split by a person in Odoo")
        self.report("mes.workorder.started", production, product_code="PLT", qty_planned=4)
        self.assertEqual(self.chain(production)[2].state, "progress")
        self.assertEqual(self.outbound(production).mapped("event_type"), ["mes.order.released"])

    def test_without_a_subscriber_nothing_is_emitted(self):
        self.scheduler.active = False
        production = self.order(qty=1)
        self.assertFalse(self.outbound(production))

    def test_an_order_completed_in_odoo_is_closed_for_the_mes(self):
        production = self.order(self.plate, qty=5)
        production.qty_producing = 5
        production._set_qty_producing()
        production.button_mark_done()
        closed = self.outbound(production).filtered(lambda e: e.event_type == "mes.order.closed")
        self.assertEqual(
            closed.payload,
            {
                "production_ref": production.mes_order_ref,
                "qty_produced": 5,
                "uom": "Units",
                "closed_by": self.env.user.name,
            },
        )

    def test_the_mes_hears_of_an_order_closed_in_odoo_only_when_nothing_is_left_open(self):
        production = self.order(self.plate, qty=10)
        production.qty_producing = 4
        production._set_qty_producing()
        production.with_context(
            skip_backorder=True, mo_ids_to_backorder=production.ids
        ).button_mark_done()
        backorder = self.chain(production)[1]
        self.assertEqual(backorder.state, "confirmed")
        types = self.outbound(production).mapped("event_type")
        self.assertNotIn("mes.order.closed", types, "the backorder still runs on the MES")
        backorder.qty_producing = 6
        backorder._set_qty_producing()
        backorder.button_mark_done()
        closed = self.outbound(production).filtered(lambda e: e.event_type == "mes.order.closed")
        self.assertEqual((len(closed), closed.payload["qty_produced"]), (1, 10))

    def test_the_mes_own_completion_is_not_told_back(self):
        production = self.order(self.plate, qty=3)
        done = self.report("mes.production.completed", production, qty=3, final=True)
        self.assertEqual(done.state, "done", done.error)
        self.assertNotIn("mes.order.closed", self.outbound(production).mapped("event_type"))


@tagged("post_install", "-at_install")
class TestMootExceptions(MesCase):
    def test_cancelling_the_order_resolves_its_open_exceptions(self):
        production = self.order(qty=10)
        reference = production.mes_order_ref
        event = self.send("mes.production.completed", {"production_ref": reference, "qty": 50})
        self.assertBusinessError(event, "over_production")
        waiting = self.send("mes.production.progress", {"production_ref": reference, "qty_done": 1})
        self.assertEqual(waiting.state, "waiting")
        exception = event.exception_id
        production.action_cancel()
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(event.state, "discarded")
        self.assertIn(reference, exception.message_ids[0].body)
        self.assertIn("cancelled", exception.message_ids[0].body.lower())

    def test_a_later_completion_makes_a_failed_count_moot(self):
        production = self.order(qty=10)
        count = self.report("mes.production.progress", production, qty_done=50)
        self.assertBusinessError(count, "over_production")
        done = self.report("mes.production.completed", production, qty=10, final=True)
        self.assertEqual(done.state, "done", done.error)
        self.assertEqual((production.state, production.qty_produced), ("done", 10))
        exception = count.exception_id
        self.assertEqual((exception.state, count.state), ("resolved", "discarded"))
        self.assertIn(done.event_uid, exception.message_ids[0].body)

    def test_a_later_start_does_not_make_a_failed_completion_moot(self):
        production = self.order(self.bracket, qty=5)
        completion = self.report("mes.production.completed", production, qty=5)
        self.assertBusinessError(completion, "lot_required")
        start = self.report("mes.workorder.started", production, product_code="BRK", qty_planned=5)
        self.assertEqual(start.state, "waiting")
        self.assertEqual(completion.exception_id.state, "open")

    def test_completing_the_order_in_odoo_with_the_same_quantity_settles_it(self):
        production = self.order(self.bracket, qty=5)
        completion = self.report("mes.production.completed", production, qty=5)
        self.assertBusinessError(completion, "lot_required")
        production.lot_producing_id = self.env["stock.lot"].create(
            {"name": "B-9", "product_id": self.bracket.id}
        )
        production.qty_producing = 5
        production._set_qty_producing()
        production.button_mark_done()
        self.assertEqual(production.state, "done")
        exception = completion.exception_id
        self.assertEqual((exception.state, completion.state), ("resolved", "discarded"))
        self.assertIn("completed in Odoo", exception.message_ids[0].body)
