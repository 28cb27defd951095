from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..models.mfg_integration_metrics import BACKLOG_QUERY, PENDING
from .common import IntegrationCase, JobQueue


@tagged("post_install", "-at_install")
class TestOverview(IntegrationCase):
    def _traffic_day(self):
        """20 applied, 1 failed, 2 resent, 1 still waiting (10 minutes old)."""
        queue = JobQueue(self.env)
        # stamped now (not at the run's start), so none is applied later than the SLA
        occurred = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        good = [
            dict(self.envelope(widget=f"W{i}", subject=f"S{i}"), time=occurred) for i in range(20)
        ]
        bad = self.envelope(widget="B", behaviour="business", subject="SB")
        self.Event.sudo()._ingest(self.system, [*good, bad])
        self.Event.sudo()._ingest(self.system, good[:2])
        queue.perform_all(immediate_only=True)
        self.Event.sudo()._ingest(self.system, [self.envelope(widget="L", subject="SL")])
        done = self.Event.search([("system_id", "=", self.system.id), ("state", "=", "done")])
        self.assertEqual(len(done), 20)
        self.env.flush_all()
        # known latencies 1..20 s: percentile_cont(0.95) = 19.05
        self.env.cr.execute(
            """
            UPDATE mfg_integration_event e SET latency_s = r.n
              FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
                      FROM mfg_integration_event WHERE id = ANY(%s)) r
             WHERE e.id = r.id
            """,
            [done.ids],
        )
        # the hourly histogram of those latencies, as processing counts them
        self.env.cr.execute(
            "DELETE FROM mfg_integration_latency WHERE system_id = %s", [self.system.id]
        )
        self.env["mfg.integration.latency"]._add_events(done.ids)
        self.env.cr.execute(
            """
            UPDATE mfg_integration_event SET received_at = %s
             WHERE system_id = %s AND state IN ('queued', 'received')
            """,
            [fields.Datetime.now() - timedelta(minutes=10), self.system.id],
        )
        # an older day is not counted
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic (system_id, contract_id, hour, received, done)
            VALUES (%s, %s, date_trunc('hour', now() at time zone 'utc') - interval '30 hours',
                    100, 100)
            """,
            [self.system.id, self.contract.id],
        )
        self.env.invalidate_all()

    def test_card_figures_of_the_last_24_hours(self):
        self._traffic_day()
        system = self.system
        self.assertEqual(
            (
                system.received_24h,
                system.done_24h,
                system.failed_24h,
                system.duplicates_24h,
                system.backlog,
            ),
            (22, 20, 1, 2, 1),
        )
        self.assertAlmostEqual(system.oldest_waiting_s, 600, delta=30)
        self.assertEqual(system.oldest_waiting, "10 min")
        # estimated from the hourly histogram (true percentile_cont: 19.05): linear inside
        # the bucket of 15 to 20 s
        self.assertAlmostEqual(system.latency_p95_s, 19.05, delta=1.0)
        # SLA 300 s: no applied event was late, the waiting one is
        self.assertEqual(system.sla_breaches_24h, 1)
        self.assertEqual(system.health, "danger")

    def test_a_contract_without_sla_counts_nothing_late(self):
        """SLA 0 means no SLA (the metrics export no SLA for it either): neither the applied
        events nor the one waiting for 10 minutes count as breaches."""
        self.contract.sla_latency_seconds = 0
        self._traffic_day()
        self.assertEqual(self.system.backlog, 1)
        self.assertEqual(self.system.sla_breaches_24h, 0)

    def test_cards_of_several_systems_in_one_query(self):
        other = self.env["mfg.integration.system"].create({"name": "Idle", "code": "idle_mes"})
        self._traffic_day()
        systems = self.system | other
        # one query reads the systems, one computes every figure of every card, one reads
        # their latency histograms, one the maintenance windows in force
        with self.assertQueryCount(4):
            systems.mapped("received_24h")
        self.assertEqual(other.received_24h, 0)
        self.assertEqual(other.health, "ok")
        self.assertEqual(other.last_seen, "never")

    def test_contract_versions_side_by_side_with_senders(self):
        self._traffic_day()
        newer = self.Contract.create(
            {"name": "Widget made", "code": "test.widget.made", "version": "1.1",
             "schema": self.contract.schema}
        )  # fmt: skip
        self.assertEqual(self.contract.other_version_ids, newer)
        self.assertEqual(self.contract.received_total, 122)
        usage = self.contract.usage_ids
        self.assertEqual(
            [(u.version, u.system_id, u.received, u.received_30d) for u in usage],
            [("1.0", self.system, 122, 122)],
        )

    def test_deprecate_with_a_sunset_date(self):
        tomorrow = fields.Date.today() + timedelta(days=30)
        action = self.contract.action_open_deprecate_wizard()
        wizard = (
            self.env[action["res_model"]]
            .with_context(**action["context"])
            .create({"sunset_date": tomorrow})
        )
        wizard.action_deprecate()
        self.assertEqual((self.contract.state, self.contract.sunset_date), ("deprecated", tomorrow))

    def test_counters_are_folded_per_hour_without_changing_totals(self):
        self._traffic_day()
        Traffic = self.env["mfg.integration.traffic"]
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic (system_id, contract_id, hour, received, done)
            SELECT %s, %s, date_trunc('hour', now() at time zone 'utc') - interval '2 hours',
                   n, n - 1
              FROM generate_series(1, 4) n
            """,
            [self.system.id, self.contract.id],
        )
        domain = [("system_id", "=", self.system.id)]
        before = Traffic._read_group(domain, [], ["received:sum", "done:sum", "__count"])[0]
        Traffic._cron_compact()
        after = Traffic._read_group(domain, [], ["received:sum", "done:sum", "__count"])[0]
        self.assertEqual(after[:2], before[:2])
        self.assertEqual(after[2], before[2] - 3)

    def test_event_analysis_by_hour_contract_and_state(self):
        self._traffic_day()
        groups = self.env["mfg.integration.event.analysis"]._read_group(
            [("system_id", "=", self.system.id)], ["hour", "contract_id", "state"], ["__count"]
        )
        counts = {(contract, state): count for _hour, contract, state, count in groups}
        self.assertEqual(counts[self.contract, "done"], 20)
        self.assertEqual(counts[self.contract, "failed"], 1)
        hours = {hour for hour, *_rest in groups}
        self.assertTrue(all(len(hour) == 16 and hour.endswith(":00") for hour in hours), hours)
        action = self.system.action_view_event_analysis()
        self.assertEqual(action["res_model"], "mfg.integration.event.analysis")

    def test_backlog_figures_read_the_pending_index_alone(self):
        """The metrics' backlog (both directions, one query) and the overview's are answered
        from the partial index of pending events without visiting the table (an index-only
        scan): at 40,000 waiting events, walking the state index and the table took 100 ms."""
        self._traffic_day()
        Metrics = self.env["mfg.integration.metrics"]
        by_direction = Metrics._pending_by_contract(fields.Datetime.now())
        self.assertEqual([row["count"] for row in by_direction["inbound"]], [1])
        self.assertEqual(by_direction["outbound"], [])
        # the plan a large table gets: a sequential scan is what a table of a few rows gets
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.env.cr.execute("SET LOCAL enable_bitmapscan = off")
        self.env.cr.execute(f"EXPLAIN {BACKLOG_QUERY}", [fields.Datetime.now(), PENDING])
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.assertIn("Index Only Scan using mfg_integration_event_pending_by_direction", plan)
