"""Open exceptions that a later fact made moot resolve themselves, naming that fact."""

from ..services.handler_registry import moot_checks
from .common import APPLIED, IntegrationCase


@moot_checks.check("test.widget.made", major=1)
def widget_superseded(env, failed_event, later_event):
    """A later report of the same widget with at least its quantity supersedes it."""
    failed, later = failed_event.payload, later_event.payload
    if later["widget"] == failed["widget"] and later["qty"] >= failed["qty"]:
        return f"widget {later['widget']} was reported again with {later['qty']}"
    return None


class TestMootExceptions(IntegrationCase):
    def test_a_later_event_that_makes_the_failure_moot_resolves_it_and_goes(self):
        failed = self._receive(self.envelope(widget="A", qty=2, behaviour="business", sequence=1))
        exception = failed.exception_id
        self.assertEqual(exception.state, "open")
        later = self._receive(self.envelope(widget="A", qty=3, sequence=2))
        self.assertEqual(later.state, "done")
        self.assertEqual(APPLIED, [later.event_uid])
        self.assertEqual((exception.state, failed.state), ("resolved", "discarded"))
        self.assertIn(later.event_uid, exception.message_ids[0].body)
        self.assertIn("reported again with 3", exception.message_ids[0].body)

    def test_a_later_event_that_does_not_settle_it_keeps_waiting(self):
        failed = self._receive(self.envelope(widget="A", qty=2, behaviour="business", sequence=1))
        other = self._receive(self.envelope(widget="B", qty=5, sequence=2))
        smaller = self._receive(self.envelope(widget="A", qty=1, sequence=3))
        self.assertEqual((other.state, smaller.state), ("waiting", "waiting"))
        self.assertEqual(failed.exception_id.state, "open")
        self.assertEqual(APPLIED, [])

    def test_a_fact_in_odoo_resolves_the_exceptions_of_its_subject(self):
        failed = self._receive(self.envelope(widget="A", behaviour="business", sequence=1))
        waiting = self._receive(self.envelope(widget="B", sequence=2))
        self.assertEqual(waiting.state, "waiting")
        resolved = self.env["mfg.integration.exception"]._resolve_moot(
            "WO-1", "Work order WO-1 was cancelled"
        )
        self.assertEqual(resolved, failed.exception_id)
        self.assertEqual((resolved.state, failed.state), ("resolved", "discarded"))
        self.assertIn("WO-1 was cancelled", resolved.message_ids[0].body)
        self.env["mfg.integration.event"].browse(waiting.id)._process_chunk()
        self.assertEqual(waiting.state, "done", "the subject is free again")
