"""Hourly latency histograms and SLA counters: what the overview's p95 and the metrics'
quantiles read instead of a day of events, counted when an outcome is recorded."""

from collections import Counter
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..services.latency_histogram import BOUNDS, SQL_BOUNDS, bucket_of, quantile
from .common import IntegrationCase, JobQueue


def stamp(seconds_ago):
    """RFC 3339 UTC ``seconds_ago`` before now (not the run's start: latencies count)."""
    moment = fields.Datetime.now() - timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@tagged("post_install", "-at_install")
class TestLatencyHistogram(IntegrationCase):
    def histogram(self):
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT bucket, SUM(count) FROM mfg_integration_latency
             WHERE system_id = %s GROUP BY bucket
            """,
            [self.system.id],
        )
        return dict(self.env.cr.fetchall())

    def late(self):
        self.env.cr.execute(
            "SELECT COALESCE(SUM(late), 0) FROM mfg_integration_traffic WHERE system_id = %s",
            [self.system.id],
        )
        return self.env.cr.fetchone()[0]

    def test_python_buckets_are_postgresql_width_buckets(self):
        values = [0.0, 0.05, 10.0**6]
        for bound in BOUNDS:
            values += [bound - 1e-6, bound, bound + 1e-6]
        self.env.cr.execute(
            "SELECT v, width_bucket(v, %s::float8[]) FROM unnest(%s::float8[]) AS v",
            [SQL_BOUNDS, values],
        )
        for value, bucket in self.env.cr.fetchall():
            self.assertEqual(bucket_of(value), bucket, value)

    def test_quantile_estimates_stay_in_the_true_values_bucket(self):
        self.assertIsNone(quantile({}, 0.5))
        latencies = [0.3 * n for n in range(1, 1001)]  # 0.3 s to 300 s, evenly
        counts = Counter(bucket_of(value) for value in latencies)
        for q in (0.5, 0.9, 0.95, 0.99):
            true = latencies[round(q * len(latencies)) - 1]
            bucket = bucket_of(true)
            estimate = quantile(counts, q)
            self.assertGreaterEqual(estimate, BOUNDS[bucket - 1], q)
            self.assertLessEqual(estimate, BOUNDS[bucket], q)
            # evenly spread inside a bucket, the linear estimate is close
            self.assertLess(abs(estimate - true) / true, 0.02, (q, estimate, true))
        # past a day: the open last bucket answers its lower bound
        self.assertEqual(quantile({len(BOUNDS): 3}, 0.5), BOUNDS[-1])

    def test_processing_counts_latencies_and_sla_breaches_as_it_applies(self):
        self.contract.sla_latency_seconds = 300
        queue = JobQueue(self.env)
        on_time = [dict(self.envelope(subject=f"T{n}"), time=stamp(30)) for n in range(3)]
        late = dict(self.envelope(subject="L"), time=stamp(600))
        self.Event.sudo()._ingest(self.system, [*on_time, late])
        self.assertEqual(self.histogram(), {}, "nothing applied yet")
        queue.perform_all(immediate_only=True)
        self.assertEqual(self.histogram(), {bucket_of(30): 3, bucket_of(600): 1})
        self.assertEqual(self.late(), 1)
        self.env.invalidate_all()
        self.assertEqual(self.system.sla_breaches_24h, 1)
        self.assertTrue(600 <= self.system.latency_p95_s <= 900, self.system.latency_p95_s)

    def test_record_only_events_are_counted_when_stored(self):
        self.contract.processing_mode = "record"
        self.contract.sla_latency_seconds = 60
        envelopes = [dict(self.envelope(subject=f"R{n}"), time=stamp(5)) for n in range(2)]
        envelopes.append(dict(self.envelope(subject="R-late"), time=stamp(120)))
        self.Event.sudo()._ingest(self.system, envelopes)
        self.assertEqual(self.histogram(), {bucket_of(5): 2, bucket_of(120): 1})
        self.assertEqual(self.late(), 1)

    def test_compaction_folds_an_hour_into_one_row_per_bucket(self):
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_latency (system_id, contract_id, hour, bucket, count)
            SELECT %s, %s, date_trunc('hour', now() at time zone 'utc') - interval '2 hours',
                   3 + n %% 2, n
              FROM generate_series(1, 4) n
            """,
            [self.system.id, self.contract.id],
        )
        self.env["mfg.integration.traffic"]._cron_compact()
        self.env.cr.execute(
            """
            SELECT bucket, count FROM mfg_integration_latency
             WHERE system_id = %s ORDER BY bucket
            """,
            [self.system.id],
        )
        self.assertEqual(self.env.cr.fetchall(), [(3, 6), (4, 4)])

    def test_first_install_fills_back_the_recent_days_histograms(self):
        self.contract.sla_latency_seconds = 300
        queue = JobQueue(self.env)
        envelopes = [dict(self.envelope(subject=f"B{n}"), time=stamp(20)) for n in range(2)]
        envelopes.append(dict(self.envelope(subject="B-late"), time=stamp(900)))
        self.Event.sudo()._ingest(self.system, envelopes)
        queue.perform_all(immediate_only=True)
        counted = self.histogram()
        # as an upgrade from a version without histograms finds it
        self.env.cr.execute("DELETE FROM mfg_integration_latency")
        self.env.cr.execute("UPDATE mfg_integration_traffic SET late = NULL")
        self.env["mfg.integration.traffic"]._backfill_latencies()
        self.assertEqual(self.histogram(), counted)
        self.assertEqual(self.late(), 1)
