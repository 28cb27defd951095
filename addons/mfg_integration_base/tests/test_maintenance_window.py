"""Maintenance windows hold a system's traffic without attempts, exceptions or breaker
trips, and resume it in order when they end (the clock is the test's: windows are placed
relative to now and moved across their start and end)."""

from datetime import timedelta

from odoo import fields

from ..services.maintenance_windows import paused_until
from .common import APPLIED, IntegrationCase, JobQueue
from .test_outbound import OutboundCase


def _window(system, start_min, end_min, now=None, **values):
    # one instant for windows that must touch: datetimes are stored to the second, and two
    # calls of now() can fall on both sides of a second
    now = now or fields.Datetime.now()
    return system.env["mfg.integration.maintenance.window"].create(
        dict(
            {
                "system_id": system.id,
                "date_from": now + timedelta(minutes=start_min),
                "date_to": now + timedelta(minutes=end_min),
                "reason": "MES release 7.2",
            },
            **values,
        )
    )


class TestInboundWindow(IntegrationCase):
    def test_events_received_during_a_window_wait_for_its_end_then_apply_in_order(self):
        window = _window(self.system, -1, 60)
        self.assertEqual(window.state, "active")
        self.assertEqual(self.system.maintenance_until, window.date_to)
        self.assertEqual(self.system.health, "maintenance")
        events = self._receive(
            self.envelope(widget="A", subject="WO-7", sequence=1),
            self.envelope(widget="B", subject="WO-7", sequence=2),
            self.envelope(widget="C", behaviour="technical", subject="WO-8"),
        )
        self.assertEqual(set(events.mapped("state")), {"queued"})
        self.assertEqual(set(events.mapped("attempts")), {0}, "a window spends no attempt")
        self.assertFalse(events.exception_id)
        self.assertEqual(APPLIED, [])
        planned = self.env["queue.job"].search([("uuid", "in", events.mapped("job_uuid"))])
        self.assertEqual(set(planned.mapped("eta")), {window.date_to})
        # the window ends early: what it held is looked at at once, in order
        queue = JobQueue(self.env)
        window.date_to = fields.Datetime.now() - timedelta(seconds=1)
        self.system.invalidate_recordset(["health", "maintenance_until"])
        self.assertEqual(self.system.health, "ok")
        queue.perform_all()
        self.assertEqual(events[:2].mapped("state"), ["done", "done"])
        self.assertEqual(APPLIED[:2], events[:2].mapped("event_uid"))
        # every attempt of the failing event came after the window: it has all its attempts
        self.assertEqual((events[2].state, events[2].attempts), ("dead", 3))

    def test_a_planned_window_does_not_hold_anything_yet(self):
        _window(self.system, 30, 90)
        self.assertFalse(self.system.maintenance_until)
        event = self._receive(self.envelope(widget="D"))
        self.assertEqual(event.state, "done")

    def test_a_window_that_holds_only_deliveries_lets_inbound_events_apply(self):
        _window(self.system, -1, 60, pause_inbound=False)
        self.assertEqual(self.system.maintenance_until and True, True)
        event = self._receive(self.envelope(widget="E"))
        self.assertEqual(event.state, "done")

    def test_chained_windows_make_one_pause_until_the_last_ends(self):
        now = fields.Datetime.now()
        first = _window(self.system, -10, 20, now=now)
        second = _window(self.system, 20, 50, now=now)  # begins where the first ends
        _window(self.system, 120, 180, now=now)  # a later, separate window
        ends = paused_until(self.env, self.system.ids, now, "inbound")
        self.assertEqual(ends, {self.system.id: second.date_to})
        self.assertGreater(second.date_to, first.date_to)

    def test_the_system_s_chatter_records_the_window(self):
        window = _window(self.system, 5, 65)
        window.unlink()
        bodies = " ".join(self.system.message_ids.mapped("body"))
        self.assertIn("Planned: Maintenance window", bodies)
        self.assertIn("Cancelled: Maintenance window", bodies)
        self.assertIn("MES release 7.2", bodies)


class TestOutboundWindow(OutboundCase):
    def test_deliveries_wait_without_attempts_or_breaker_then_resume_in_order(self):
        window = _window(self.system, -1, 60)
        events = self.emit(widget="W-1") | self.emit(widget="W-2")
        result = self.dispatch()
        self.assertIn("maintenance window", result)
        self.assertEqual(self.receiver.requests, [])
        self.assertEqual(set(events.mapped("state")), {"queued"})
        self.assertEqual(set(events.mapped("attempts")), {0})
        self.assertEqual(
            (self.system.circuit_state, self.system.consecutive_failures), ("closed", 0)
        )
        self.assertIn(str(window.date_to), result)
        self.assertTrue(self.dispatch_jobs(), "a dispatcher is planned for the window's end")
        # the window is over: the next round delivers both, in order
        window.date_to = fields.Datetime.now() - timedelta(seconds=1)
        self.dispatch()
        self.assertEqual(self.received_ids(), events.mapped("event_uid"))
        self.assertEqual(set(events.mapped("state")), {"done"})
