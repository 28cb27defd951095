from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from odoo import fields, sql_db

from ..inbox import processing, retention
from ..services.event_states import FINAL_STATES
from .common import APPLIED, IntegrationCase, JobQueue, utc_stamp


class TestProcessing(IntegrationCase):
    def test_done_event_records_result_and_timings(self):
        event = self._receive(self.envelope(widget="A"))
        self.assertEqual(event.state, "done")
        self.assertEqual(APPLIED, [event.event_uid])
        self.assertEqual(
            (event.result_model, event.result_res_id), (self.system._name, self.system.id)
        )
        self.assertTrue(event.processed_at)
        self.assertGreater(event.latency_s, 0)
        self.assertEqual(self.system.description, "A;")

    def test_a_sub_second_latency_is_measured_not_rounded_to_zero(self):
        # Odoo's datetimes drop microseconds; an event 300 ms old must not read 0 s
        sent = datetime.now(UTC) - timedelta(milliseconds=300)
        envelope = dict(self.envelope(widget="L"), time=sent.isoformat(timespec="milliseconds"))
        event = self._receive(envelope)
        self.assertEqual(event.state, "done")
        self.assertGreaterEqual(event.latency_s, 0.3)
        self.assertLess(event.latency_s, 60)

    def test_reprocessing_a_done_event_applies_nothing(self):
        event = self._receive(self.envelope(widget="A"))
        event._process_chunk()
        self.assertEqual(APPLIED, [event.event_uid])

    def test_business_error_opens_grouped_exception_at_once(self):
        events = self._receive(
            self.envelope(widget="X", behaviour="business", subject="S1"),
            self.envelope(widget="X", behaviour="business", subject="S2"),
            self.envelope(widget="Y", behaviour="business", subject="S3"),
        )
        self.assertEqual(set(events.mapped("state")), {"failed"})
        exceptions = events.mapped("exception_id")
        self.assertEqual(len(exceptions), 3)
        self.assertEqual(set(exceptions.mapped("category")), {"business"})
        self.assertEqual(exceptions[0].name, "Widget 'X' is unknown")
        self.assertEqual(exceptions[0].suggested_action, "Create the widget, then retry.")
        self.assertEqual(len(set(exceptions.mapped("fingerprint"))), 2)
        self.assertEqual(set(events.mapped("attempts")), {1})

    def test_one_bad_event_does_not_roll_back_its_neighbours(self):
        events = self._receive(
            self.envelope(widget="A", subject="S1"),
            self.envelope(widget="B", behaviour="business", subject="S2"),
            self.envelope(widget="C", subject="S3"),
        )
        self.assertEqual(events.mapped("state"), ["done", "failed", "done"])
        self.assertEqual(sorted(self.system.description.split(";")[:-1]), ["A", "C"])

    def test_technical_error_retries_with_backoff_then_dies(self):
        event = self._receive(self.envelope(behaviour="technical"))
        self.assertEqual((event.state, event.attempts), ("queued", 1))
        self.assertIn("ConnectionError", event.error)
        self.assertTrue(event.next_attempt_at)
        queue = JobQueue(self.env)
        event._process_chunk()
        self.assertEqual((event.state, event.attempts), ("queued", 2))
        retries = queue.enqueued()
        self.assertEqual(len(retries), 1, "the retry is a delayed job")
        self.assertTrue(retries.eta)
        event._process_chunk()
        self.assertEqual((event.state, event.attempts), ("dead", 3))
        self.assertEqual(event.exception_id.category, "technical")
        self.assertEqual(event.exception_id.reason_code, "retries_exhausted")
        self.assertIn("ConnectionError", event.exception_id.details)

    def test_a_concurrency_conflict_postpones_the_rest_of_the_chunk_without_an_attempt(self):
        # another job holds the row the handler needs (as two jobs booking the same quant)
        # (a connection of its own: registry.cursor() in a test shares the test's)
        other = sql_db.db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(other.close)
        other.execute("SELECT id FROM res_country WHERE code = 'BE' FOR NO KEY UPDATE NOWAIT")
        queue = JobQueue(self.env)
        events = self._receive(
            self.envelope(widget="A", subject="S1"),
            self.envelope(widget="B", behaviour="conflict", subject="S2"),
            self.envelope(widget="C", subject="S3"),
        )
        self.assertEqual(events.mapped("state"), ["done", "queued", "queued"])
        self.assertEqual(events.mapped("attempts"), [1, 0, 0], "a conflict costs no attempt")
        self.assertFalse(events[1:].exception_id)
        self.assertEqual(self.system.description, "A;", "what came before the conflict stays")
        retry = queue.enqueued()
        self.assertEqual(len(retry), 1)
        self.assertEqual(retry.records.ids, events[1:].ids)
        self.assertTrue(retry.eta)
        other.rollback()  # the other job finished
        queue.perform(retry)
        self.assertEqual(events.mapped("state"), ["done", "done", "done"])
        self.assertEqual(self.system.description, "A;B;C;")

    def test_a_value_the_database_cannot_hold_is_a_business_error_not_a_retry(self):
        event = self._receive(self.envelope(widget="Z", behaviour="out_of_range"))
        self.assertEqual((event.state, event.attempts), ("failed", 1))
        self.assertEqual(event.exception_id.reason_code, "value_out_of_range")
        self.assertEqual(event.exception_id.category, "business")
        self.assertIn("out of range", event.exception_id.name)

    def test_missing_prerequisite_waits_then_becomes_exception(self):
        event = self._receive(self.envelope(behaviour="prerequisite"))
        self.assertEqual((event.state, event.wait_reason), ("waiting", "prerequisite"))
        self.assertEqual(event.wait_until, event.received_at + timedelta(minutes=10))
        with freeze_time(fields.Datetime.now() + timedelta(minutes=11)):
            event._process_chunk()
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_id.reason_code, "prerequisite_missing")
        self.assertIn("has not arrived", event.exception_id.name)

    def test_subject_order_is_kept_behind_a_failed_event(self):
        first, second, third = (
            self.envelope(widget=w, subject="WO-7", sequence=i, behaviour=b)
            for i, (w, b) in enumerate([("A", "business"), ("B", "ok"), ("C", "ok")])
        )
        events = self._receive(third, first, second)
        by_widget = {e.payload["widget"]: e for e in events}
        self.assertEqual(by_widget["A"].state, "failed")
        self.assertEqual((by_widget["B"].state, by_widget["B"].wait_reason), ("waiting", "order"))
        self.assertEqual(by_widget["C"].state, "waiting")
        self.assertEqual(APPLIED, [])
        # the planner fixes the cause and retries: everything applies, in order
        by_widget["A"].sudo().write({"payload": dict(by_widget["A"].payload, behaviour="ok")})
        queue = JobQueue(self.env)
        by_widget["A"].exception_id.action_retry()
        queue.perform_all()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(
            APPLIED, [by_widget[w].event_uid for w in "ABC"], "applied in sequence order"
        )

    def test_discarding_the_blocker_releases_the_successors(self):
        blocker = self.envelope(widget="A", subject="WO-8", sequence=1, behaviour="business")
        follower = self.envelope(widget="B", subject="WO-8", sequence=2)
        events = self._receive(blocker, follower)
        self.assertEqual(events.mapped("state"), ["failed", "waiting"])
        queue = JobQueue(self.env)
        events[0].exception_id.action_discard("Order cancelled in the MES")
        queue.perform_all()
        self.assertEqual(events.mapped("state"), ["discarded", "done"])
        self.assertEqual(events[0].exception_id.state, "discarded")
        self.assertIn("Order cancelled", events[0].exception_id.message_ids[0].body)

    def test_an_exception_shows_the_events_waiting_behind_it(self):
        blocker = self.envelope(widget="A", subject="WO-9", sequence=1, behaviour="business")
        followers = [
            self.envelope(widget=w, subject="WO-9", sequence=n)
            for n, w in [(2, "B"), (3, "C"), (4, "D")]
        ]
        alone = self.envelope(widget="E", subject="WO-10", sequence=1, behaviour="business")
        other = self.envelope(widget="F", subject="WO-11", sequence=1)
        events = self._receive(blocker, *followers, alone, other)
        failed = events.filtered(lambda e: e.state == "failed")
        self.assertEqual(len(failed), 2)
        exceptions = failed.exception_id
        counts = {x.subject: x.waiting_behind_count for x in exceptions}
        self.assertEqual(counts, {"WO-9": 3, "WO-10": 0})
        self.assertEqual(self.system.waiting_behind_exceptions, 3)
        blocking = exceptions.filtered(lambda x: x.subject == "WO-9")
        action = blocking.action_view_waiting_events()
        self.assertEqual(
            sorted(e.payload["widget"] for e in self.Event.search(action["domain"])),
            ["B", "C", "D"],
        )
        queue = JobQueue(self.env)
        blocking.action_discard("Order cancelled in the MES")
        queue.perform_all()
        self.env.invalidate_all()
        self.assertEqual(
            (blocking.waiting_behind_count, self.system.waiting_behind_exceptions), (0, 0)
        )

    def test_earlier_event_still_queued_in_another_job_holds_the_later_one(self):
        queue = JobQueue(self.env)
        self.Event.sudo()._ingest(self.system, [self.envelope(widget="A", subject="S", sequence=1)])
        self.Event.sudo()._ingest(self.system, [self.envelope(widget="B", subject="S", sequence=2)])
        first_job, second_job = queue.enqueued()
        later = queue.perform(second_job).recordset
        self.assertEqual((later.state, later.wait_reason), ("waiting", "order"))
        # the earlier event is still in flight at the delayed check: it is checked again
        # (the earlier job's transaction may not see the wait, so may not release it)
        check = queue.enqueued().filtered(lambda job: job.eta)
        self.assertEqual(check.records.ids, later.ids)
        queue.perform(check)
        self.assertEqual((later.state, later.wait_reason), ("waiting", "order"))
        self.assertEqual(queue.enqueued().filtered(lambda job: job.eta).records.ids, later.ids)
        earlier = queue.perform(first_job).recordset
        queue.perform_all()
        self.assertEqual(later.state, "done")
        self.assertEqual(APPLIED, [earlier.event_uid, later.event_uid])

    def test_after_commit_the_successors_this_job_could_not_see_are_released(self):
        queue = JobQueue(self.env)
        self.Event.sudo()._ingest(self.system, [self.envelope(widget="A", subject="S", sequence=1)])
        self.Event.sudo()._ingest(self.system, [self.envelope(widget="B", subject="S", sequence=2)])
        first_job, second_job = queue.enqueued()
        later = queue.perform(second_job).recordset
        self.assertEqual((later.state, later.wait_reason), ("waiting", "order"))
        before = queue.enqueued().ids
        # what the earlier job's post-commit hook does (a test transaction never commits); its
        # cursor of its own is the test's here, so it sees the test's records
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        processing._enqueue_unseen(self.env.cr.dbname, {"S"}, seen={later.id})
        self.assertEqual(queue.enqueued().ids, before, "what the job saw is not enqueued twice")
        processing._enqueue_unseen(self.env.cr.dbname, {"S"}, seen=set())
        released = queue.enqueued().filtered(lambda job: job.id not in before)
        self.assertEqual(released.records.ids, later.ids)
        queue.perform(first_job)
        queue.perform(released)
        self.assertEqual(later.state, "done")

    def test_stalled_queued_event_is_requeued_by_the_cron(self):
        event = self._receive(self.envelope(behaviour="technical"))
        # its retry job vanished (e.g. deleted by a careless admin): the cron notices
        self.env["queue.job"].search([("uuid", "=", event.job_uuid)]).unlink()
        event.sudo().write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})
        queue = JobQueue(self.env)
        self.assertEqual(self.Event._cron_resume_stalled(), 1)
        self.assertEqual(len(queue.enqueued()), 1)

    def test_heartbeat_updates_system_health(self):
        heartbeat = {
            "specversion": "1.0",
            "id": "hb-1",
            "source": "plant1/gw-01",
            "type": "edge.heartbeat",
            "dataschema": "urn:mfg:contract:edge.heartbeat:1.0",
            "time": utc_stamp(),
            "subject": "heartbeat/plant1/gw-01",
            "data": {
                "agent_version": "1.2.3",
                "backlog": 42,
                "dead_letters": 1,
                "oldest_event_age_s": 9.5,
                "clock_synchronised": False,
            },
        }
        event = self._receive(heartbeat)
        self.assertEqual(event.state, "done")
        self.assertEqual(
            (
                self.system.agent_version,
                self.system.reported_backlog,
                self.system.reported_dead_letters,
                self.system.clock_synchronised,
            ),
            ("1.2.3", 42, 1, False),
        )
        older = dict(
            heartbeat,
            id="hb-0",
            time=utc_stamp(seconds_ago=3600),
            data=dict(heartbeat["data"], backlog=1, agent_version="1.2.2"),
        )
        self._receive(older)
        self.assertEqual(self.system.reported_backlog, 42, "an older heartbeat changes nothing")

    def test_retention_purges_payload_but_keeps_the_key(self):
        event = self._receive(self.envelope(event_id="old-1"))
        self.env.cr.execute(
            "UPDATE mfg_integration_event SET received_at = received_at - interval '91 days' "
            "WHERE id = %s",
            [event.id],
        )
        purged, deleted = self.Event._cron_purge_payloads()
        self.assertEqual((purged, deleted), (1, 0))
        self.assertTrue(event.payload_purged)
        self.assertFalse(event.payload)
        result = self.Event.sudo()._ingest(self.system, [self.envelope(event_id="old-1")])
        self.assertEqual(result[0]["status"], "duplicate")

    def test_retention_purges_the_oldest_first_from_its_index_and_skips_purged_rows(self):
        events = self._receive(*(self.envelope(event_id=f"old-o{n}") for n in range(4)))
        self.env.cr.execute(
            "UPDATE mfg_integration_event SET received_at = received_at - make_interval("
            "days => 91 + (ARRAY[3, 1, 4, 2])[id - %s + 1]) WHERE id = ANY(%s)",
            [min(events.ids), events.ids],
        )
        self.assertEqual(self.Event._cron_purge_payloads(batch_size=2, max_batches=1), (2, 0))
        oldest_two = events.sorted("received_at")[:2]
        self.assertEqual(events.filtered("payload_purged"), oldest_two)
        self.assertEqual(self.Event._cron_purge_payloads(batch_size=2, max_batches=1), (2, 0))
        self.assertEqual(self.Event._cron_purge_payloads(batch_size=2, max_batches=1), (0, 0))
        # the plan a large table gets (a table of a few rows gets a sequential scan): the
        # index of what is left to purge, not a scan of the rows purged before
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.env.cr.execute(
            f"EXPLAIN {retention.PURGE_QUERY}", {"final": FINAL_STATES, "limit": 5000}
        )
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.assertIn("Index Scan using mfg_integration_event_to_purge", plan)

    def test_retention_cron_runs_again_at_once_while_old_payloads_remain(self):
        events = self._receive(*(self.envelope(event_id=f"old-p{n}") for n in range(3)))
        self.env.cr.execute(
            "UPDATE mfg_integration_event SET received_at = received_at - interval '91 days' "
            "WHERE id = ANY(%s)",
            [events.ids],
        )
        _cron, progress = self.env.ref("mfg_integration_base.cron_purge_payloads")._add_progress()
        Event = self.Event.with_context(ir_cron_progress_id=progress.id)
        self.assertEqual(Event._cron_purge_payloads(batch_size=2, max_batches=1), (2, 0))
        self.assertEqual((progress.done, progress.remaining), (2, 1), "more to do: run again")
        self.assertEqual(Event._cron_purge_payloads(batch_size=2, max_batches=1), (1, 0))
        self.assertEqual((progress.done, progress.remaining), (1, 0), "all purged: done")
        self.assertTrue(all(events.mapped("payload_purged")))

    def test_event_without_sequence_applies_first_like_the_earlier_event_rule_says(self):
        with_sequence = self.envelope(widget="B", subject="WO-S", sequence=1)
        without_sequence = self.envelope(widget="A", subject="WO-S")
        events = self._receive(with_sequence, without_sequence)
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(APPLIED, [without_sequence["id"], with_sequence["id"]])
