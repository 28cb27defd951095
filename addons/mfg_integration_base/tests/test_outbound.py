"""The outbox: emit in the business transaction, deliver in order, retry, breaker, replay."""

import random
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests.common import TransactionCase, new_test_user

from odoo.addons.queue_job.exception import RetryableJobError

from ..outbox.dispatcher import DISPATCH_LOCK_NAMESPACE, dispatch_identity
from .common import create_outbound_widget_contract
from .receiver import RealTimeouts, Receiver


class OutboundCase(RealTimeouts, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver()
        cls.receiver.__enter__()
        cls.addClassCleanup(cls.receiver.__exit__)
        cls.Event = cls.env["mfg.integration.event"]
        cls.contract = create_outbound_widget_contract(
            cls.env, max_attempts=3, retry_base_seconds=1, retry_max_seconds=2
        )
        cls.system = cls.env["mfg.integration.system"].create(
            {
                "name": "Test MES receiver",
                "code": "test_mes_out",
                "allowed_contract_ids": [(6, 0, cls.contract.ids)],
                "outbound_adapter": "webhook",
                "outbound_url": cls.receiver.url,
                "signing_secret": cls.receiver.secret,
                "outbound_read_timeout": 1,
                # one lane: the receiver's scripted answers go to a known event
                "outbound_parallel": 1,
                "circuit_failure_threshold": 3,
                "circuit_cooldown_seconds": 30,
            }
        )

    def setUp(self):
        super().setUp()
        self.receiver.requests.clear()
        self.receiver.script.clear()

    def emit(self, widget="W-1", subject="SO-1", **values):
        return self.Event.emit(
            "test.widget.shipped", {"widget": widget, "qty": 1}, subject=subject, **values
        )

    def dispatch(self):
        return self.Event.sudo()._dispatch_system(self.system.id)

    def dispatch_jobs(self, system=None):
        return self.env["queue.job"].search(
            [("identity_key", "=", dispatch_identity((system or self.system).id)),
             ("state", "=", "pending")]
        )  # fmt: skip

    def make_due(self, events):
        events.sudo().write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})
        self.system.sudo().outbound_resume_at = False

    def received_ids(self):
        return [event["id"] for event in self.receiver.events()]


class TestEmit(OutboundCase):
    def test_invalid_data_is_refused_before_anything_is_written(self):
        before = self.Event.search_count([("direction", "=", "outbound")])
        with self.assertRaises(ValidationError) as caught:
            self.Event.emit("test.widget.shipped", {"widget": "W-1", "qty": -3}, subject="SO-1")
        self.assertIn("/data/qty", str(caught.exception))
        self.assertIn("qty", str(caught.exception))
        with self.assertRaises(ValidationError) as caught:
            self.Event.emit("test.widget.shipped", {"qty": 1})
        self.assertIn("widget", str(caught.exception))
        self.assertEqual(self.Event.search_count([("direction", "=", "outbound")]), before)
        with self.assertRaises(UserError):
            self.Event.emit("test.widget.unknown", {"widget": "W-1", "qty": 1})

    def test_one_row_per_destination_with_sequences_per_subject(self):
        second = self.system.copy({"code": "test_mes_out2", "name": "Second receiver"})
        second.outbound_adapter = "webhook"
        self.system.copy({"code": "no_adapter", "name": "No adapter", "outbound_adapter": False})
        first = self.emit(correlation_id="flow-1")
        more = self.emit(subject="SO-1") | self.emit(subject="SO-2")
        self.assertEqual(first.system_id, self.system | second)
        self.assertEqual(len(set(first.mapped("event_uid"))), 1, "one CloudEvent, two receivers")
        self.assertEqual(first.mapped("correlation_id"), ["flow-1", "flow-1"])
        self.assertEqual(set(first.mapped("source")), {f"odoo/{self.env.cr.dbname}"})
        self.assertEqual(set((first | more).mapped("state")), {"queued"})
        mine = (first | more).filtered(lambda e: e.system_id == self.system)
        self.assertEqual(
            sorted((e.subject, e.sequence) for e in mine),
            [("SO-1", "000000000001"), ("SO-1", "000000000002"), ("SO-2", "000000000001")],
        )
        self.assertEqual(more[0].correlation_id, more[0].event_uid, "a new flow by default")
        self.assertEqual(len(self.dispatch_jobs()), 1, "one dispatcher per system, not per event")
        self.assertEqual(len(self.dispatch_jobs(second)), 1)

    def test_newest_active_version_unless_one_is_asked_for(self):
        newer = create_outbound_widget_contract(self.env, version="1.1")
        self.assertEqual(self.emit().contract_id, newer)
        older = self.Event.emit("test.widget.shipped", {"widget": "W", "qty": 1}, version="1.0")
        self.assertEqual(older.contract_id, self.contract)
        newer.action_deprecate()
        self.assertEqual(self.emit().contract_id, self.contract, "active before deprecated")

    def test_rollback_leaves_no_event_and_no_job(self):
        events_before = self.Event.search_count([("direction", "=", "outbound")])
        jobs_before = self.env["queue.job"].search_count([])
        try:
            with self.env.cr.savepoint():
                emitted = self.emit()
                self.assertTrue(emitted.exists())
                self.assertEqual(len(self.dispatch_jobs()), 1)
                raise RuntimeError("the business change failed")
        except RuntimeError:
            pass
        self.env.invalidate_all()
        self.assertEqual(self.Event.search_count([("direction", "=", "outbound")]), events_before)
        self.assertEqual(self.env["queue.job"].search_count([]), jobs_before)

    def test_many_events_in_one_call_cost_constant_queries(self):
        items = [{"data": {"widget": f"W-{n}", "qty": 1}, "subject": f"SO-{n % 5}"}
                 for n in range(200)]  # fmt: skip
        self.Event._emit_many("test.widget.shipped", items[:10])
        with self.assertQueryCount(__system__=12):
            events = self.Event._emit_many("test.widget.shipped", items)
        self.assertEqual(len(events), 200)

    def test_rpc_emit_needs_a_manager(self):
        user = new_test_user(
            self.env,
            "integration_user_ob",
            groups="mfg_integration_base.group_mfg_integration_user",
        )
        with self.assertRaises(AccessError):
            self.Event.with_user(user).api_emit(
                "test.widget.shipped", [{"data": {"widget": "W", "qty": 1}}]
            )
        ids = self.Event.api_emit("test.widget.shipped", [{"data": {"widget": "W", "qty": 1}}])
        self.assertEqual(len(ids), 1)


class TestDelivery(OutboundCase):
    def test_delivered_in_order_signed_and_done(self):
        events = self.emit("W-1") | self.emit("W-2") | self.emit("W-3", subject="SO-2")
        self.dispatch()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(set(events.mapped("attempts")), {1})
        received = self.received_ids()
        self.assertEqual(sorted(received), sorted(events.mapped("event_uid")))
        self.assertLess(received.index(events[0].event_uid), received.index(events[1].event_uid))
        for headers, body, problem in self.receiver.requests:
            self.assertIsNone(problem)
            self.assertEqual(headers["webhook-id"], body["id"])
            self.assertEqual(body["type"], "test.widget.shipped")
            self.assertEqual(body["dataschema"], "urn:mfg:contract:test.widget.shipped:1.0")
        self.dispatch()
        self.assertEqual(len(self.receiver.requests), 3, "nothing is delivered twice")

    def test_technical_failure_retries_and_holds_later_events(self):
        # A retry delay of a minute, the jitter drawn at its top: with the class's 1 s (or a
        # low draw), a slow run reached the second dispatch after the retry was due, and
        # "still waits" was a race.
        self.contract.sudo().write({"retry_base_seconds": 60, "retry_max_seconds": 120})
        first, later, other = self.emit("W-1"), self.emit("W-2"), self.emit("W-3", subject="SO-2")
        self.receiver.script = [(503, {}, 0)]
        with patch.object(random, "uniform", side_effect=lambda low, high: high):
            self.dispatch()
        self.assertEqual((first.state, first.attempts), ("queued", 1))
        self.assertGreater(first.next_attempt_at, fields.Datetime.now() + timedelta(seconds=30))
        self.assertEqual((later.state, later.attempts), ("queued", 0))
        self.assertEqual(other.state, "done")
        self.assertNotIn(later.event_uid, self.received_ids(), "never overtakes a failed one")
        self.dispatch()
        self.assertEqual(later.state, "queued", "still waits: the first is not due yet")
        self.make_due(first)
        self.dispatch()
        self.assertEqual((first.state, later.state), ("done", "done"))
        ids = self.received_ids()
        self.assertLess(ids.index(first.event_uid, 1), ids.index(later.event_uid))

    def test_retry_after_is_honoured(self):
        event = self.emit()
        self.receiver.script = [(429, {"Retry-After": "120"}, 0)]
        self.dispatch()
        wait = (event.next_attempt_at - fields.Datetime.now()).total_seconds()
        self.assertTrue(115 <= wait <= 121, wait)
        self.assertTrue(self.system.outbound_resume_at)
        self.make_due(event)
        self.dispatch()
        self.assertEqual(event.state, "done")

    def test_business_refusal_opens_exception_and_holds_subject(self):
        refused, later, other = self.emit("W-1"), self.emit("W-2"), self.emit("W-3", subject="SO-2")
        self.receiver.script = [(422, {}, 0)]
        self.dispatch()
        self.assertEqual(refused.state, "failed")
        exception = refused.exception_id
        self.assertEqual(
            (exception.category, exception.reason_code), ("business", "delivery_refused")
        )
        self.assertIn("HTTP 422", exception.name)
        self.assertEqual((later.state, other.state), ("queued", "done"))
        self.dispatch()
        self.assertEqual(later.state, "queued", "waits for a person")
        exception.action_discard("Order cancelled in the MES")
        self.dispatch()
        self.assertEqual((refused.state, later.state), ("discarded", "done"))

    def test_dead_after_the_last_attempt(self):
        event = self.emit()
        self.system.circuit_failure_threshold = 10
        for _attempt in range(3):
            self.receiver.script = [(500, {}, 0)]
            self.make_due(event)
            self.dispatch()
        self.assertEqual((event.state, event.attempts), ("dead", 3))
        self.assertEqual(event.exception_id.category, "technical")
        self.assertEqual(event.exception_id.reason_code, "retries_exhausted")
        event.exception_id.action_retry()
        self.assertEqual((event.state, event.attempts), ("queued", 0))
        self.dispatch()
        self.assertEqual(event.state, "done", "an outbound exception's Retry delivers again")

    def test_timeout_is_a_technical_failure(self):
        event = self.emit()
        self.receiver.script = [(200, {}, 1.5)]
        self.dispatch()
        self.assertEqual((event.state, event.attempts), ("queued", 1))
        self.assertIn("Timeout", event.error)

    def test_the_stalled_events_cron_resumes_only_systems_with_due_events(self):
        event = self.emit()
        self.dispatch_jobs().unlink()  # as if a crash lost the dispatcher job
        self.Event._cron_resume_stalled()
        self.assertEqual(len(self.dispatch_jobs()), 1)
        self.dispatch_jobs().unlink()
        self.receiver.script = [(422, {}, 0)]
        self.dispatch()
        self.emit("W-2")  # held behind the refused one: nothing to do until a person acts
        self.dispatch_jobs().unlink()
        self.Event._cron_resume_stalled()
        self.assertEqual(event.state, "failed")
        self.assertFalse(self.dispatch_jobs(), "no dispatcher for events that wait for a person")

    def test_a_failure_at_one_system_does_not_hold_another(self):
        other = self.system.copy({"code": "test_mes_out3", "name": "Third receiver"})
        other.outbound_adapter = "webhook"
        first = self.emit("W-1")
        later = self.emit("W-2")
        self.receiver.script = [(422, {}, 0)]
        self.dispatch()
        self.Event.sudo()._dispatch_system(other.id)
        mine = (first | later).filtered(lambda e: e.system_id == self.system)
        theirs = (first | later) - mine
        self.assertEqual(mine.mapped("state"), ["failed", "queued"])
        self.assertEqual(set(theirs.mapped("state")), {"done"})

    def test_a_second_dispatcher_waits_for_the_first(self):
        self.emit()
        with self.registry.cursor() as other:
            other.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [DISPATCH_LOCK_NAMESPACE, self.system.id]
            )
            with self.assertRaises(RetryableJobError):
                self.dispatch()
        self.assertEqual(self.receiver.requests, [])


class TestCircuitBreaker(OutboundCase):
    def test_opens_pauses_probes_and_closes(self):
        events = self.Event.browse()
        for number in range(6):
            events |= self.emit(f"W-{number}", subject=f"SO-{number}")
        self.receiver.script = [(503, {}, 0)] * 10
        self.dispatch()
        self.assertEqual(self.system.circuit_state, "open")
        self.assertEqual(len(self.receiver.requests), 3, "the round stops at the threshold")
        exception = self.system.circuit_exception_id
        self.assertEqual((exception.reason_code, exception.state), ("circuit_open", "open"))
        attempts = sum(events.mapped("attempts"))
        self.make_due(events)
        self.dispatch()
        self.assertEqual(len(self.receiver.requests), 3, "open: nothing is sent")
        self.assertEqual(sum(events.mapped("attempts")), attempts, "no attempts burnt")
        self.assertEqual(
            self.env["mfg.integration.exception"].search_count(
                [("system_id", "=", self.system.id), ("reason_code", "=", "circuit_open")]
            ),
            1,
            "one exception for the system, not one per event",
        )
        # cool-down over: one probe, which fails: open again, same exception
        self.system.circuit_opened_at = fields.Datetime.now() - timedelta(seconds=31)
        self.dispatch()
        self.assertEqual(len(self.receiver.requests), 4, "one probe")
        self.assertEqual(self.system.circuit_state, "open")
        self.assertEqual(self.system.circuit_exception_id, exception)
        # the system is back: Retry on the exception probes at once, and it closes
        self.receiver.script = []
        self.make_due(events)
        exception.action_retry()
        self.dispatch()
        self.assertEqual(self.system.circuit_state, "closed")
        self.assertEqual(exception.state, "resolved")
        self.assertIn("circuit breaker closed", self.system.message_ids[0].body)
        self.dispatch()
        self.assertEqual(set(events.mapped("state")), {"done"})

    def test_manager_resets_the_breaker(self):
        self.system.sudo().write(
            {"circuit_state": "open", "circuit_opened_at": fields.Datetime.now()}
        )
        user = new_test_user(
            self.env,
            "integration_user_cb",
            groups="mfg_integration_base.group_mfg_integration_user",
        )
        with self.assertRaises(UserError):
            self.system.with_user(user).action_reset_circuit()
        self.system.action_reset_circuit()
        self.assertEqual(self.system.circuit_state, "closed")


class TestReplay(OutboundCase):
    def test_replay_keeps_the_id_and_logs_the_reason(self):
        event = self.emit()
        self.dispatch()
        self.assertEqual(event.state, "done")
        wizard = (
            self.env["mfg.integration.replay.wizard"]
            .with_context(active_model="mfg.integration.event", active_ids=event.ids)
            .create({"reason": "MES restored from backup"})
        )
        self.assertEqual(wizard.event_count, 1)
        wizard.action_replay()
        self.assertEqual((event.state, event.attempts), ("queued", 0))
        self.assertIn("MES restored from backup", event.message_ids[0].body)
        self.assertIn("MES restored from backup", self.system.message_ids[0].body)
        self.dispatch()
        self.assertEqual(self.received_ids(), [event.event_uid, event.event_uid])
        webhook_ids = [headers["webhook-id"] for headers, _b, _p in self.receiver.requests]
        self.assertEqual(webhook_ids, [event.event_uid] * 2, "receivers dedup on webhook-id")

    def test_replay_a_time_range_of_one_system_and_contract(self):
        events = self.emit("W-1") | self.emit("W-2", subject="SO-2")
        self.dispatch()
        wizard = self.env["mfg.integration.replay.wizard"].create(
            {
                "scope": "range",
                "system_id": self.system.id,
                "contract_id": self.contract.id,
                "date_from": fields.Datetime.now() - timedelta(hours=1),
                "date_to": fields.Datetime.now() + timedelta(hours=1),
                "reason": "Audit resend",
            }
        )
        self.assertEqual(wizard.event_count, 2)
        wizard.action_replay()
        self.assertEqual(set(events.mapped("state")), {"queued"})
        with self.assertRaises(UserError):
            self.env["mfg.integration.replay.wizard"].create(
                {"event_ids": [(6, 0, events.ids)], "reason": " "}
            ).action_replay()
