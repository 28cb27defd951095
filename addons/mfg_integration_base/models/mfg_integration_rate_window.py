import logging
import math
import time

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class MfgIntegrationRateWindow(models.Model):
    """Events counted per system and minute, shared by every Odoo worker through PostgreSQL."""

    _name = "mfg.integration.rate.window"
    _description = "API Rate Window"
    _log_access = False

    system_id = fields.Many2one("mfg.integration.system", required=True, ondelete="cascade")
    window_start = fields.Integer(required=True, help="Unix time of the window's first second.")
    event_count = fields.Integer(required=True, default=0)

    _sql_constraints = [
        ("system_window_unique", "unique(system_id, window_start)", "One row per window."),
    ]

    @api.model
    def _consume(self, system_id, limit_per_minute, events):
        """Count ``events`` against the system's limit; returns seconds to wait, or 0.

        Runs in its own short transaction: the request's transaction may last long or
        roll back, and holding the counter row until then would serialise all ingest of
        one system across workers. Refused requests are not counted.
        """
        if not limit_per_minute:
            return 0
        if events > limit_per_minute:
            return -1  # larger than a whole minute's budget: waiting would not help
        now = time.time()
        window = int(now // WINDOW_SECONDS * WINDOW_SECONDS)
        if self.env.registry.in_test_mode():
            # tests share one transaction: a second cursor would wait on it forever
            return self._count_in(self.env.cr, system_id, limit_per_minute, events, now, window)
        with self.env.registry.cursor() as cr:
            # READ COMMITTED: concurrent upserts of one counter row wait and add up instead
            # of failing with serialization errors as under Odoo's REPEATABLE READ.
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            return self._count_in(cr, system_id, limit_per_minute, events, now, window)

    @api.model
    def _count_in(self, cr, system_id, limit_per_minute, events, now, window):
        cr.execute(
            """
            INSERT INTO mfg_integration_rate_window AS w (system_id, window_start, event_count)
            VALUES (%(system)s, %(window)s, %(events)s)
            ON CONFLICT (system_id, window_start) DO UPDATE
               SET event_count = w.event_count + EXCLUDED.event_count
             WHERE w.event_count + EXCLUDED.event_count <= %(limit)s
            RETURNING event_count
            """,
            {
                "system": system_id,
                "window": window,
                "events": events,
                "limit": limit_per_minute,
            },
        )
        if cr.fetchone() is None:
            return max(1, math.ceil(window + WINDOW_SECONDS - now))
        # SKIP LOCKED: the request's own transaction may hold the system's row (it notes the
        # key's last use there); waiting for it from this second cursor would wait forever
        cr.execute(
            "UPDATE mfg_integration_system SET last_seen_at = now() at time zone 'utc' "
            "WHERE id = (SELECT id FROM mfg_integration_system WHERE id = %s "
            "AND (last_seen_at IS NULL "
            "OR last_seen_at < now() at time zone 'utc' - interval '5 seconds') "
            "FOR NO KEY UPDATE SKIP LOCKED)",
            [system_id],
        )
        return 0

    @api.model
    def _cron_cleanup(self):
        self.env.cr.execute(
            "DELETE FROM mfg_integration_rate_window WHERE window_start < %s",
            [int(time.time()) - 3600],
        )
