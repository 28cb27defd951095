"""Outbound deliveries in the hourly traffic counters, the overview card and the metrics,
counted apart from inbound traffic."""

import re
from datetime import timedelta

from odoo import fields

from .test_outbound import OutboundCase


class TestDeliveryCounters(OutboundCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # failures of the scenario must not open the breaker between its rounds
        cls.system.circuit_failure_threshold = 10
        cls.labels = 'system="test_mes_out",contract="test.widget.shipped",version="1.0"'

    def emitted_ago(self, event, seconds):
        """Stamp ``event`` as emitted ``seconds`` before now (its delivery latency)."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE mfg_integration_event SET occurred_at = %s, received_at = %s WHERE id = %s",
            [fields.Datetime.now() - timedelta(seconds=seconds)] * 2 + [event.id],
        )
        self.env.invalidate_all()

    def rounds(self):
        """Two delivered (emitted 100 s and 40 s ago), one refused, one retried twice then
        dead: a round each, scripted."""
        first = self.emit("W-1", subject="SO-1")
        self.emitted_ago(first, 100)
        self.dispatch()
        refused = self.emit("W-2", subject="SO-2")
        self.receiver.script = [(422, {}, 0)]
        self.dispatch()
        dead = self.emit("W-3", subject="SO-3")
        for _attempt in range(3):
            self.receiver.script = [(503, {}, 0)]
            self.make_due(dead)
            self.dispatch()
        second = self.emit("W-4", subject="SO-4")
        self.emitted_ago(second, 40)
        self.dispatch()
        self.assertEqual(
            (first | refused | dead | second).mapped("state"), ["done", "failed", "dead", "done"]
        )
        return first | second

    def traffic(self):
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT SUM(received), SUM(done), SUM(failed), SUM(delivered), SUM(delivery_failed),
                   SUM(delivery_dead), SUM(delivery_retries), SUM(delivery_latency_sum)
              FROM mfg_integration_traffic WHERE system_id = %s AND contract_id = %s
            """,
            [self.system.id, self.contract.id],
        )
        return self.env.cr.fetchone()

    def test_deliveries_counted_apart_from_inbound(self):
        self.rounds()
        *counts, latency_sum = self.traffic()
        # received, done, failed (inbound) | delivered, refused, dead, retries (outbound)
        self.assertEqual(counts, [0, 0, 0, 2, 1, 1, 2])
        self.assertAlmostEqual(latency_sum, 140, delta=10)

    def test_a_round_adds_one_row_per_system_and_contract(self):
        for number in range(25):
            self.emit(f"W-{number}", subject=f"SO-{number}")
        self.env.flush_all()
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM mfg_integration_traffic")
        last_id = self.env.cr.fetchone()[0]
        self.dispatch()
        self.env.cr.execute(
            """
            SELECT system_id, contract_id, delivered, delivery_retries
              FROM mfg_integration_traffic WHERE id > %s
            """,
            [last_id],
        )
        self.assertEqual(self.env.cr.fetchall(), [(self.system.id, self.contract.id, 25, 0)])

    def test_compaction_keeps_the_delivery_totals(self):
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic
                   (system_id, contract_id, hour, delivered, delivery_retries,
                    delivery_latency_sum)
            SELECT %s, %s, date_trunc('hour', now() at time zone 'utc') - interval '2 hours',
                   n, 1, n * 0.5
              FROM generate_series(1, 4) n
            """,
            [self.system.id, self.contract.id],
        )
        self.env["mfg.integration.traffic"]._cron_compact()
        self.env.cr.execute(
            """
            SELECT COUNT(*), SUM(delivered), SUM(delivery_retries), SUM(delivery_latency_sum)
              FROM mfg_integration_traffic
             WHERE system_id = %s
               AND hour = date_trunc('hour', now() at time zone 'utc') - interval '2 hours'
            """,
            [self.system.id],
        )
        self.assertEqual(self.env.cr.fetchone(), (1, 10, 4, 5.0))

    def test_card_of_a_system_that_only_receives(self):
        self.rounds()
        waiting = self.emit("W-5", subject="SO-5")
        system = self.system
        self.assertFalse(system.sends_to_odoo)
        self.assertEqual(
            (system.delivered_24h, system.delivery_failed_24h, system.dead_24h,
             system.retries_24h),
            (2, 1, 1, 2),
        )  # fmt: skip
        # deliveries of about 100 s and 40 s: the p95, estimated from the hourly histogram,
        # lies in the bucket of the slower one (90 to 120 s; percentile_cont: 97 s)
        self.assertTrue(90 <= system.delivery_latency_p95_s <= 120, system.delivery_latency_p95_s)
        self.assertRegex(system.last_delivery, r"^\d+ s ago$")
        # nothing was sent to Odoo: the queued outbound event is no inbound backlog
        self.assertEqual((system.received_24h, system.done_24h, system.backlog), (0, 0, 0))
        self.assertEqual(waiting.state, "queued")
        self.assertEqual(system.outbound_backlog, 3, "queued, refused and dead")
        self.assertEqual(system.health, "danger", "refused and dead events with exceptions")

    def test_card_without_deliveries(self):
        self.assertEqual((self.system.delivered_24h, self.system.last_delivery), (0, "-"))
        self.assertEqual(self.system.health, "ok")

    def test_metrics_of_deliveries_from_the_hourly_counters(self):
        self.rounds()
        queued = self.emit("W-5", subject="SO-5")
        self.emitted_ago(queued, 600)
        # an earlier hour's counters (the events themselves purged long ago) count too
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic
                   (system_id, contract_id, hour, delivered, delivery_latency_sum)
            VALUES (%s, %s, date_trunc('hour', now() at time zone 'utc') - interval '30 days',
                    100, 250)
            """,
            [self.system.id, self.contract.id],
        )
        text = self.env["mfg.integration.metrics"]._render()
        labels = self.labels
        for metric, value in (
            ("mfg_integration_outbound_events_delivered_total", 102),
            ("mfg_integration_outbound_events_failed_total", 1),
            ("mfg_integration_outbound_events_dead_total", 1),
            ("mfg_integration_outbound_delivery_retries_total", 2),
            ("mfg_integration_outbound_delivery_latency_seconds_count", 102),
            ("mfg_integration_outbound_backlog_events", 1),
        ):
            self.assertIn(f"{metric}{{{labels}}} {value}\n", text)
        latency_sum = re.search(
            rf"mfg_integration_outbound_delivery_latency_seconds_sum\{{{labels}\}} ([0-9.]+)\n",
            text,
        )
        self.assertAlmostEqual(float(latency_sum.group(1)), 390, delta=10)
        # last hour's quantiles: two deliveries of about 100 s and 40 s; the median,
        # estimated from the hourly histogram, lies in the faster one's bucket (30 to 45 s)
        median = re.search(
            rf'mfg_integration_outbound_delivery_latency_seconds\{{{labels},quantile="0.5"\}} '
            r"([0-9.]+)\n",
            text,
        )
        self.assertTrue(30 <= float(median.group(1)) <= 45, median.group(1))
        age = re.search(
            rf"mfg_integration_outbound_oldest_queued_age_seconds\{{{labels}\}} ([0-9.]+)\n",
            text,
        )
        self.assertAlmostEqual(float(age.group(1)), 600, delta=30)
        # no outbound figure in the inbound families
        for metric in (
            "mfg_integration_events_received_total",
            "mfg_integration_events_done_total",
            "mfg_integration_backlog_events",
            "mfg_integration_event_latency_seconds_count",
        ):
            self.assertNotIn(f"{metric}{{{labels}}}", text)
