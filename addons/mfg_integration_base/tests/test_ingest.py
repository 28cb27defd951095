from datetime import datetime, timedelta

from odoo.addons.queue_job.job import Job

from .common import IntegrationCase, JobQueue


class TestIngest(IntegrationCase):
    def _ingest(self, envelopes):
        return self.Event.sudo()._ingest(self.system, envelopes)

    def _count(self, **where):
        domain = [("system_id", "=", self.system.id)] + [(k, "=", v) for k, v in where.items()]
        return self.Event.search_count(domain)

    def test_accepted_then_duplicate_then_key_reused(self):
        first = self.envelope(event_id="evt-1")
        self.assertEqual(self._ingest([first])[0]["status"], "accepted")
        self.assertEqual(self._ingest([first])[0]["status"], "duplicate")
        changed = self.envelope(event_id="evt-1", qty=99)
        result = self._ingest([changed])[0]
        self.assertEqual(result["status"], "rejected")
        self.assertEqual(result["error"]["code"], "idempotency_key_reused")
        self.assertEqual(self._count(event_uid="evt-1", state="queued"), 1)
        refused = self.Event.search([("event_uid", "=", "evt-1"), ("state", "=", "rejected")])
        self.assertEqual(len(refused), 1, "the refused resend is logged for a person to see")
        self.assertIn('"qty": 99', refused.raw_body)

    def test_duplicate_answer_names_the_sequence_odoo_holds(self):
        """A sender retrying its own attempt gets its sequence back; a replay (same event
        under a new sequence, e.g. after a gateway crash) gets the first one's."""
        first = self.envelope(event_id="evt-seq", sequence=41)
        self.assertEqual(self._ingest([first])[0]["status"], "accepted")
        again = self._ingest([dict(first)])[0]
        self.assertEqual((again["status"], again["sequence"]), ("duplicate", "000000000041"))
        replay = dict(first, sequence="000000000977")
        answer = self._ingest([replay])[0]
        self.assertEqual((answer["status"], answer["sequence"]), ("duplicate", "000000000041"))
        twice = self.envelope(event_id="evt-seq-2", sequence=50)
        results = self._ingest([twice, dict(twice, sequence="000000000051")])
        self.assertEqual([r["status"] for r in results], ["accepted", "duplicate"])
        self.assertEqual(results[1]["sequence"], "000000000050", "inside one batch too")
        unsequenced = self.envelope(event_id="evt-seq-3")
        self._ingest([unsequenced])
        answer = self._ingest([dict(unsequenced)])[0]
        self.assertEqual((answer["status"], answer["sequence"]), ("duplicate", None))

    def test_stored_event_keeps_envelope_fields(self):
        envelope = self.envelope(event_id="evt-2", subject="WO-9", sequence=7)
        envelope.update(correlationid="corr-1", causationid="cause-1", clockquality="jumped")
        envelope["time"] = envelope["time"].replace("Z", "+02:00")  # kept in UTC
        self._ingest([envelope])
        event = self.Event.search([("event_uid", "=", "evt-2")])
        self.assertEqual(
            (event.subject, event.sequence, event.correlation_id, event.causation_id),
            ("WO-9", "000000000007", "corr-1", "cause-1"),
        )
        self.assertEqual(event.payload, {"widget": "W-1", "qty": 1})
        self.assertEqual(event.envelope_extra, {"clockquality": "jumped"})
        self.assertEqual(event.clock_quality, "jumped")
        stamped = datetime.strptime(envelope["time"], "%Y-%m-%dT%H:%M:%S+02:00")
        self.assertEqual(event.occurred_at, stamped - timedelta(hours=2))
        self.assertEqual((event.contract_id, event.contract_version), (self.contract, "1.0"))
        self.assertEqual(len(event.payload_hash), 64)

    def test_batch_results_are_per_event_and_in_order(self):
        good = self.envelope(event_id="b-1")
        bad_schema = self.envelope(event_id="b-2", qty=-1)
        unknown = dict(self.envelope(event_id="b-3"), type="test.nothing.here", dataschema=None)
        unknown.pop("dataschema")
        twice = self.envelope(event_id="b-4")
        results = self._ingest([good, bad_schema, unknown, twice, dict(twice)])
        self.assertEqual(
            [r["status"] for r in results],
            ["accepted", "rejected", "rejected", "accepted", "duplicate"],
        )
        self.assertEqual(results[1]["error"]["pointer"], "/data/qty")
        self.assertIn("qty", results[1]["error"]["message"])
        self.assertEqual(results[2]["error"]["code"], "unknown_contract")
        self.assertEqual(self._count(state="rejected"), 2)
        self.assertEqual(self._count(state="queued"), 2)

    def test_not_allowed_contract_is_forbidden(self):
        self.system.allowed_contract_ids = [(3, self.contract.id)]
        result = self._ingest([self.envelope()])[0]
        self.assertEqual(result["error"]["code"], "contract_not_allowed")
        self.assertTrue(result["error"]["forbidden"])

    def test_missing_dataschema_uses_newest_active_version(self):
        newer = self.contract.copy({"version": "1.1", "state": "active"})
        envelope = self.envelope()
        envelope.pop("dataschema")
        self._ingest([envelope])
        self.assertEqual(self.Event.search([("event_uid", "=", envelope["id"])]).contract_id, newer)

    def test_retired_version_is_refused(self):
        self.contract.state = "retired"
        result = self._ingest([self.envelope()])[0]
        self.assertEqual(result["error"]["code"], "unknown_contract")

    def test_realtime_events_are_enqueued_in_chunks_keeping_subjects_together(self):
        envelopes = [
            self.envelope(subject=f"WO-{i % 7}", sequence=i, event_id=f"c-{i}") for i in range(600)
        ]
        queue = JobQueue(self.env)
        self._ingest(envelopes)
        jobs = queue.enqueued()
        self.assertEqual(len(jobs), 3)
        recordsets = [Job.load(self.env, job.uuid).recordset for job in jobs]
        self.assertEqual([len(records) for records in recordsets], [250, 250, 100])
        # a subject is split only where a chunk is full, and then into consecutive chunks
        subjects_per_job = [set(records.mapped("subject")) for records in recordsets]
        self.assertLessEqual(sum(len(s) for s in subjects_per_job), 7 + 2)
        events = self.Event.search(
            [("system_id", "=", self.system.id), ("event_uid", "like", "c-%")]
        )
        self.assertEqual(set(events.mapped("state")), {"queued"})
        self.assertEqual(len(set(events.mapped("job_uuid"))), 3)

    def test_batch_contract_is_left_for_the_cron(self):
        self.contract.processing_mode = "batch"
        queue = JobQueue(self.env)
        self._ingest([self.envelope(event_id="batch-1")])
        self.assertFalse(queue.enqueued())
        event = self.Event.search([("event_uid", "=", "batch-1")])
        self.assertEqual(event.state, "received")
        self.Event._cron_process_batch_contracts()
        self.assertEqual(event.state, "queued")
        self.assertIn(event.job_uuid, queue.enqueued().mapped("uuid"))
        queue.perform_all()
        self.assertEqual(event.state, "done")

    def test_nul_characters_are_refused_and_logged_without_error(self):
        results = self._ingest([self.envelope(event_id="nul\x00id"), self.envelope(widget="W\x00")])
        self.assertEqual([r["status"] for r in results], ["rejected", "rejected"])
        self.assertEqual(results[1]["error"]["pointer"], "/data/widget")
        logged = self.Event.search([("system_id", "=", self.system.id), ("state", "=", "rejected")])
        self.assertIn("nul\ufffdid", logged.mapped("event_uid"))

    def test_record_only_contract_is_done_when_stored(self):
        self.contract.processing_mode = "record"
        queue = JobQueue(self.env)
        self._ingest([self.envelope(event_id="rec-1")])
        event = self.Event.search([("event_uid", "=", "rec-1")])
        self.assertEqual(event.state, "done")
        self.assertEqual(event.processed_at, event.received_at)
        self.assertFalse(queue.enqueued())
        self.Event._cron_process_batch_contracts()
        self.assertEqual((event.state, event.job_uuid), ("done", False))

    def test_record_only_event_has_its_arrival_latency(self):
        self.contract.processing_mode = "record"
        self._ingest([self.envelope(event_id="rec-lat")])
        event = self.Event.search([("event_uid", "=", "rec-lat")])
        expected = (event.received_at - event.occurred_at).total_seconds()
        self.assertGreater(expected, 0)
        self.assertAlmostEqual(event.latency_s, expected, delta=1)
        # the hourly counters behind the overview and the metrics carry the same latency
        self.env.cr.execute(
            "SELECT SUM(done), SUM(latency_sum) FROM mfg_integration_traffic"
            " WHERE system_id = %s AND contract_id = %s",
            [self.system.id, self.contract.id],
        )
        done, latency_sum = self.env.cr.fetchone()
        self.assertEqual(done, 1)
        self.assertAlmostEqual(latency_sum, expected, delta=1)
