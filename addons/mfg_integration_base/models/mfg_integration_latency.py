from psycopg2.extras import execute_values

from odoo import api, fields, models

from ..services.latency_histogram import SQL_BOUNDS, quantile


class MfgIntegrationLatency(models.Model):
    """Latency histograms per system, contract and hour: how many applied (inbound) or
    delivered (outbound) events took how long, in the buckets of
    services/latency_histogram.py.

    Kept beside the hourly traffic counters, by the same writers and the same way (append-only
    delta rows, one insert per API batch, job chunk or delivery round; folded per hour by the
    traffic cron), so that the overview's 24-hour p95 and the metrics' quantiles read a few
    hundred rows instead of a day of events.
    """

    _name = "mfg.integration.latency"
    _description = "Integration Latency Histogram per Hour"
    _order = "hour desc, system_id, contract_id, bucket"
    _log_access = False

    system_id = fields.Many2one(
        "mfg.integration.system", required=True, ondelete="cascade", readonly=True
    )
    contract_id = fields.Many2one(
        "mfg.integration.contract", required=True, ondelete="cascade", readonly=True
    )
    hour = fields.Datetime(required=True, readonly=True, help="Start of the hour (UTC).")
    bucket = fields.Integer(
        required=True,
        readonly=True,
        help="Index of the latency bucket (services/latency_histogram.py BOUNDS).",
    )
    count = fields.Integer(readonly=True)

    def init(self):
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_latency_hour
                ON mfg_integration_latency (hour, system_id, contract_id)
            """
        )
        self.env.cr.execute("SELECT 1 FROM mfg_integration_latency LIMIT 1")
        if not self.env.cr.fetchone():
            self.env["mfg.integration.traffic"]._backfill_latencies()

    @api.model
    def _add(self, buckets):
        """Add ``buckets`` {(system_id, contract_id, bucket): count} to the current hour."""
        rows = [(*key, count) for key, count in buckets.items() if count and key[1]]
        if not rows:
            return
        execute_values(
            self.env.cr._obj,
            "INSERT INTO mfg_integration_latency (system_id, contract_id, bucket, count, hour)"
            " VALUES %s",
            rows,
            template="(%s, %s, %s, %s, date_trunc('hour', now() at time zone 'utc'))",
        )

    @api.model
    def _add_events(self, event_ids):
        """Count the latencies of the done events among ``event_ids`` (one statement)."""
        if not event_ids:
            return
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_latency (system_id, contract_id, hour, bucket, count)
            SELECT system_id, contract_id, date_trunc('hour', now() at time zone 'utc'),
                   width_bucket(latency_s, %s::float8[]), COUNT(*)
              FROM mfg_integration_event
             WHERE id = ANY(%s) AND state = 'done' AND latency_s IS NOT NULL
               AND contract_id IS NOT NULL
             GROUP BY system_id, contract_id, 4
            """,
            [SQL_BOUNDS, list(event_ids)],
        )

    @api.model
    def _compact(self):
        """Fold the delta rows of past hours into one row per system, contract, hour and
        bucket."""
        self.env.cr.execute(
            """
            WITH moved AS (
                DELETE FROM mfg_integration_latency h
                 WHERE h.hour < date_trunc('hour', now() at time zone 'utc')
                   AND (h.system_id, h.contract_id, h.hour, h.bucket) IN (
                       SELECT system_id, contract_id, hour, bucket
                         FROM mfg_integration_latency
                        WHERE hour < date_trunc('hour', now() at time zone 'utc')
                        GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1)
                RETURNING h.*
            )
            INSERT INTO mfg_integration_latency (system_id, contract_id, hour, bucket, count)
            SELECT system_id, contract_id, hour, bucket, SUM(count)
              FROM moved
             GROUP BY system_id, contract_id, hour, bucket
            """
        )
        return self.env.cr.rowcount

    @api.model
    def _quantiles(self, since, quantiles, by="system"):
        """{key: [quantile, ...]} of the latencies counted since ``since`` (the start of its
        hour), per direction: key (system id, direction) with ``by="system"``, (system code,
        contract code, version, direction) with ``by="contract"``."""
        select = "h.system_id" if by == "system" else "s.code, c.code, c.version"
        # pylint: disable-next=sql-injection  # select: one of two constant column lists
        self.env.cr.execute(
            f"""
            SELECT {select}, c.direction, h.bucket, SUM(h.count)
              FROM (SELECT system_id, contract_id, bucket, SUM(count) AS count
                      FROM mfg_integration_latency
                     WHERE hour >= date_trunc('hour', %s)
                     GROUP BY system_id, contract_id, bucket) h
              JOIN mfg_integration_system s ON s.id = h.system_id
              JOIN mfg_integration_contract c ON c.id = h.contract_id
             GROUP BY {select}, c.direction, h.bucket
            """,
            [since],
        )
        histograms = {}
        for *key, bucket, count in self.env.cr.fetchall():
            histograms.setdefault(tuple(key), {})[bucket] = count
        return {key: [quantile(counts, q) for q in quantiles] for key, counts in histograms.items()}
