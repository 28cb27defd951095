from collections import Counter, defaultdict

from psycopg2.extras import execute_values

from odoo import api, fields, models

from ..services.latency_histogram import SQL_BOUNDS, bucket_of

# the columns the ingest path adds to (processing outcomes: _add_outcomes)
ADDED = ("received", "duplicates", "rejected", "done", "latency_sum", "late")
# the columns of outbound deliveries (added by _add_deliveries), apart from inbound ones
DELIVERY_COUNTERS = (
    "delivered",
    "delivery_failed",
    "delivery_dead",
    "delivery_retries",
    "delivery_latency_sum",
)
COUNTERS = ("received", "duplicates", "rejected", "done", "failed", "latency_sum", "late",
            *DELIVERY_COUNTERS)  # fmt: skip
# the hours the latency histograms and the SLA counter are filled back for on their first
# install (the overview reads the last 24 h)
BACKFILL_HOURS = 48


class MfgIntegrationTraffic(models.Model):
    """Event counters per system, contract and hour, kept by the ingest and processing paths
    (inbound) and by the delivery outcomes (outbound, in columns of their own).

    The overview and /mfg/v1/metrics read these few rows instead of counting a table of
    millions of events; being sums, they also survive the retention purge, so Prometheus
    counters never go down. Append-only: each API batch and each job chunk inserts its own
    small delta rows (no shared row to lock, so concurrent requests never wait on each other
    or fail to serialise); readers sum, and an hourly cron folds past hours into one row
    per system, contract and hour.
    """

    _name = "mfg.integration.traffic"
    _description = "Integration Traffic per Hour"
    _order = "hour desc, system_id, contract_id"
    _log_access = False

    system_id = fields.Many2one(
        "mfg.integration.system", required=True, ondelete="cascade", readonly=True
    )
    contract_id = fields.Many2one("mfg.integration.contract", ondelete="cascade", readonly=True)
    hour = fields.Datetime(required=True, readonly=True, help="Start of the hour (UTC).")
    received = fields.Integer(readonly=True, help="Events accepted by the API.")
    duplicates = fields.Integer(readonly=True, help="Resends of events already received.")
    rejected = fields.Integer(readonly=True, help="Events refused by the API.")
    done = fields.Integer(readonly=True, help="Events applied in Odoo.")
    failed = fields.Integer(readonly=True, help="Events that became an exception.")
    latency_sum = fields.Float(
        readonly=True, help="Sum of the latencies of the events applied (seconds)."
    )
    late = fields.Integer(
        readonly=True, help="Events applied later than their contract's SLA (SLA set)."
    )
    delivered = fields.Integer(readonly=True, help="Outbound events the receiver accepted.")
    delivery_failed = fields.Integer(
        readonly=True, help="Outbound events the receiver refused (business exception)."
    )
    delivery_dead = fields.Integer(
        readonly=True, help="Outbound events given up after their last attempt."
    )
    delivery_retries = fields.Integer(
        readonly=True, help="Failed delivery attempts scheduled to be tried again."
    )
    delivery_latency_sum = fields.Float(
        readonly=True,
        help="Sum of the delivery latencies (emitted to accepted) of the events delivered "
        "(seconds).",
    )
    last_delivered_at = fields.Datetime(
        readonly=True, help="When the last of these deliveries was accepted."
    )

    def init(self):
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_traffic_hour
                ON mfg_integration_traffic (hour, system_id, contract_id)
            """
        )
        # Pending events by direction, system and contract: the overview's and the metrics'
        # backlog and oldest age are an index-only scan of this small partial index (the
        # direction leads: without it in the index, the planner walked the state index and
        # the table, twice per scrape). It replaces the index without the direction.
        self.env.cr.execute("DROP INDEX IF EXISTS mfg_integration_event_pending_by_system")
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_event_pending_by_direction
                ON mfg_integration_event (direction, system_id, contract_id, received_at)
             WHERE state IN ('received', 'queued', 'processing', 'waiting')
            """
        )
        for column in COUNTERS:
            # pylint: disable-next=sql-injection  # column names from the constant COUNTERS
            self.env.cr.execute(
                f"ALTER TABLE mfg_integration_traffic ALTER COLUMN {column} SET DEFAULT 0"
            )
        self.env.cr.execute("SELECT 1 FROM mfg_integration_traffic LIMIT 1")
        if not self.env.cr.fetchone():
            self._backfill()

    def _backfill(self):
        """Counters of the events stored before this table existed (duplicates unknown)."""
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic
                   (system_id, contract_id, hour, received, rejected, done, failed, latency_sum)
            SELECT system_id, contract_id, date_trunc('hour', received_at),
                   COUNT(*) FILTER (WHERE state <> 'rejected'),
                   COUNT(*) FILTER (WHERE state = 'rejected'),
                   COUNT(*) FILTER (WHERE state = 'done'),
                   COUNT(*) FILTER (WHERE state IN ('failed', 'dead')),
                   COALESCE(SUM(latency_s) FILTER (WHERE state = 'done'), 0)
              FROM mfg_integration_event
             WHERE direction = 'inbound' AND received_at IS NOT NULL
             GROUP BY 1, 2, 3
            """
        )
        # outbound events by the hour they were emitted (retries unknown)
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic
                   (system_id, contract_id, hour, delivered, delivery_failed, delivery_dead,
                    delivery_latency_sum)
            SELECT system_id, contract_id, date_trunc('hour', received_at),
                   COUNT(*) FILTER (WHERE state = 'done'),
                   COUNT(*) FILTER (WHERE state = 'failed'),
                   COUNT(*) FILTER (WHERE state = 'dead'),
                   COALESCE(SUM(latency_s) FILTER (WHERE state = 'done'), 0)
              FROM mfg_integration_event
             WHERE direction = 'outbound' AND received_at IS NOT NULL
             GROUP BY 1, 2, 3
            """
        )

    def _backfill_latencies(self):
        """The latency histograms, the SLA breaches and the last delivery of the recent
        events stored before they were counted (the overview's day; older hours keep no
        histogram): added as delta rows beside the existing counters."""
        params = {"bounds": SQL_BOUNDS, "hours": BACKFILL_HOURS}
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_latency (system_id, contract_id, hour, bucket, count)
            SELECT system_id, contract_id, date_trunc('hour', received_at),
                   width_bucket(latency_s, %(bounds)s::float8[]), COUNT(*)
              FROM mfg_integration_event
             WHERE received_at >= now() at time zone 'utc' - make_interval(hours => %(hours)s)
               AND state = 'done' AND latency_s IS NOT NULL AND contract_id IS NOT NULL
             GROUP BY 1, 2, 3, 4
            """,
            params,
        )
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic (system_id, contract_id, hour, late,
                                                 last_delivered_at)
            SELECT e.system_id, e.contract_id, date_trunc('hour', e.received_at),
                   COUNT(*) FILTER (WHERE e.direction = 'inbound' AND c.sla_latency_seconds > 0
                                    AND e.latency_s > c.sla_latency_seconds),
                   MAX(e.processed_at) FILTER (WHERE e.direction = 'outbound')
              FROM mfg_integration_event e
              JOIN mfg_integration_contract c ON c.id = e.contract_id
             WHERE e.received_at >= now() at time zone 'utc' - make_interval(hours => %(hours)s)
               AND e.state = 'done' AND e.latency_s IS NOT NULL
             GROUP BY 1, 2, 3
            """,
            params,
        )

    @api.model
    def _add(self, counts):
        """Add ``counts`` {(system_id, contract_id): {column: n}} to the current hour, in one
        statement (a row per system and contract)."""
        unknown = {column for values in counts.values() for column in values} - set(ADDED)
        assert not unknown, unknown
        rows = [
            (system_id, contract_id, *(values.get(column, 0) for column in ADDED))
            for (system_id, contract_id), values in counts.items()
            if any(values.values())
        ]
        if not rows:
            return
        execute_values(
            self.env.cr._obj,
            f"""
            INSERT INTO mfg_integration_traffic (system_id, contract_id, hour, {", ".join(ADDED)})
            VALUES %s
            """,
            rows,
            template="(%s, %s, date_trunc('hour', now() at time zone 'utc'), "
            + ", ".join(["%s"] * len(ADDED))
            + ")",
        )

    @api.model
    def _count_ingest(self, system, candidates, inserted, duplicate_rows, refused_count):
        """Add one API batch to the hourly counters: one insert, a row per contract.

        ``candidates`` are (index, row) of the batch's new keys, ``inserted`` the keys
        really inserted, ``duplicate_rows`` the rows of resends."""
        counts = defaultdict(Counter)
        buckets = Counter()
        Contract = self.env["mfg.integration.contract"]
        for _index, row in candidates:
            if (row["source"], row["event_uid"]) in inserted:
                # counted under the version sent (a converted event under its old version)
                key = (system.id, row.get("sent_contract_id") or row["contract_id"])
                counts[key]["received"] += 1
                # record-only contracts are done once stored
                if row["mode"] == "record":
                    counts[key]["done"] += 1
                    counts[key]["latency_sum"] += row["latency_s"]
                    sla = Contract.browse(row["contract_id"]).sla_latency_seconds
                    if sla and row["latency_s"] > sla:
                        counts[key]["late"] += 1
                    buckets[(*key, bucket_of(row["latency_s"]))] += 1
        for row in duplicate_rows:
            counts[system.id, row.get("sent_contract_id") or row["contract_id"]]["duplicates"] += 1
        counts[system.id, None]["rejected"] += refused_count
        self._add(counts)
        self.env["mfg.integration.latency"]._add(buckets)

    @api.model
    def _add_outcomes(self, event_ids):
        """Count the events among ``event_ids`` that are now done or failed (one statement).

        Called at the end of a processing chunk: its events were claimed while pending, so
        a done, failed or dead state now is this chunk's outcome.
        """
        if not event_ids:
            return
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic
                   (system_id, contract_id, hour, done, failed, latency_sum, late)
            SELECT e.system_id, e.contract_id, date_trunc('hour', now() at time zone 'utc'),
                   COUNT(*) FILTER (WHERE e.state = 'done'),
                   COUNT(*) FILTER (WHERE e.state IN ('failed', 'dead')),
                   COALESCE(SUM(e.latency_s) FILTER (WHERE e.state = 'done'), 0),
                   COUNT(*) FILTER (WHERE e.state = 'done' AND c.sla_latency_seconds > 0
                                    AND e.latency_s > c.sla_latency_seconds)
              FROM mfg_integration_event e
              LEFT JOIN mfg_integration_contract c ON c.id = e.contract_id
             WHERE e.id = ANY(%s) AND e.state IN ('done', 'failed', 'dead')
             GROUP BY e.system_id, e.contract_id
            """,
            [list(event_ids)],
        )
        self.env["mfg.integration.latency"]._add_events(event_ids)

    @api.model
    def _add_deliveries(self, delivered_ids, retried_ids, refused_ids, dead_ids):
        """Count a delivery round's outcomes (one statement, a row per system and contract).

        Called by the outbox in the transaction that records the outcomes, after the events
        were written: delivered ones are done with their latency (emitted to accepted),
        retried ones are queued again, refused ones failed and dead ones dead.
        """
        ids = [*delivered_ids, *retried_ids, *refused_ids, *dead_ids]
        if not ids:
            return
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_traffic
                   (system_id, contract_id, hour, delivered, delivery_failed, delivery_dead,
                    delivery_retries, delivery_latency_sum, last_delivered_at)
            SELECT system_id, contract_id, date_trunc('hour', now() at time zone 'utc'),
                   COUNT(*) FILTER (WHERE id = ANY(%(delivered)s)),
                   COUNT(*) FILTER (WHERE id = ANY(%(refused)s)),
                   COUNT(*) FILTER (WHERE id = ANY(%(dead)s)),
                   COUNT(*) FILTER (WHERE id = ANY(%(retried)s)),
                   COALESCE(SUM(latency_s) FILTER (WHERE id = ANY(%(delivered)s)), 0),
                   MAX(processed_at) FILTER (WHERE id = ANY(%(delivered)s))
              FROM mfg_integration_event
             WHERE id = ANY(%(ids)s)
             GROUP BY system_id, contract_id
            """,
            {
                "ids": ids,
                "delivered": list(delivered_ids),
                "retried": list(retried_ids),
                "refused": list(refused_ids),
                "dead": list(dead_ids),
            },
        )
        self.env["mfg.integration.latency"]._add_events(delivered_ids)

    @api.model
    def _cron_compact(self):
        """Fold the delta rows of past hours into one row per system, contract and hour (and
        the latency histograms' into one per bucket)."""
        self.env.flush_all()
        columns = ", ".join((*COUNTERS, "last_delivered_at"))
        # rows written before a column existed hold NULL there
        sums = ", ".join(
            (*(f"COALESCE(SUM({column}), 0)" for column in COUNTERS), "MAX(last_delivered_at)")
        )
        # pylint: disable-next=sql-injection  # column names from the constant COUNTERS
        self.env.cr.execute(
            f"""
            WITH moved AS (
                DELETE FROM mfg_integration_traffic t
                 WHERE t.hour < date_trunc('hour', now() at time zone 'utc')
                   AND (t.system_id, COALESCE(t.contract_id, 0), t.hour) IN (
                       SELECT system_id, COALESCE(contract_id, 0), hour
                         FROM mfg_integration_traffic
                        WHERE hour < date_trunc('hour', now() at time zone 'utc')
                        GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)
                RETURNING t.*
            )
            INSERT INTO mfg_integration_traffic (system_id, contract_id, hour, {columns})
            SELECT system_id, contract_id, hour, {sums}
              FROM moved
             GROUP BY system_id, contract_id, hour
            """
        )
        folded = self.env.cr.rowcount
        self.env["mfg.integration.latency"]._compact()
        return folded
