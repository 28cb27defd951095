import hashlib
import hmac
import secrets
from datetime import timedelta

from odoo import api, fields, models

HASH_PARAMETER = "mfg_integration_base.metrics_token_sha256"
PENDING = ("received", "queued", "processing", "waiting")
QUANTILES = (0.5, 0.9, 0.95, 0.99)
# The overview's figures per system, in the order _system_overview selects them; all but
# the latency are counts.
OVERVIEW_FIGURES = (
    "received_24h",
    "done_24h",
    "failed_24h",
    "duplicates_24h",
    "backlog",
    "oldest_waiting_s",
    "latency_p95_s",
    "sla_breaches_24h",
    "open_exceptions",
)
# (metric, help, column of the hourly traffic counters)
TRAFFIC_COUNTERS = [
    ("mfg_integration_events_received_total", "Events accepted by the API.", "received"),
    ("mfg_integration_events_done_total", "Events applied in Odoo.", "done"),
    (
        "mfg_integration_events_failed_total",
        "Events that became an exception (business error or retries exhausted).",
        "failed",
    ),
    (
        "mfg_integration_events_duplicates_total",
        "Resends of events already received (answered 'duplicate').",
        "duplicates",
    ),
]


class MfgIntegrationMetrics(models.AbstractModel):
    """Operational figures of the integration: the overview cards and GET /mfg/v1/metrics.

    Everything is read set-based: hourly counters (mfg.integration.traffic) instead of
    counting millions of events, the pending events through their partial index, and
    latency percentiles with percentile_cont over a bounded time range (BRIN index).
    """

    _name = "mfg.integration.metrics"
    _description = "Integration Metrics"

    # -- overview -----------------------------------------------------------------------

    @api.model
    def _system_overview(self, system_ids):
        """{system id: figures of the last 24 h} for the overview cards, in one query."""
        if not system_ids:
            return {}
        self.env.flush_all()
        now = fields.Datetime.now()
        self.env.cr.execute(
            """
            WITH traffic AS (
                SELECT system_id, SUM(received) AS received, SUM(done) AS done,
                       SUM(failed) AS failed, SUM(duplicates) AS duplicates
                  FROM mfg_integration_traffic
                 WHERE system_id = ANY(%(ids)s) AND hour >= date_trunc('hour', %(since)s)
                 GROUP BY system_id
            ), pending AS (
                SELECT e.system_id, COUNT(*) AS backlog, MIN(e.received_at) AS oldest,
                       COUNT(*) FILTER (
                           WHERE e.received_at < %(now)s
                                 - make_interval(secs => COALESCE(c.sla_latency_seconds, 0))
                       ) AS late
                  FROM mfg_integration_event e
                  LEFT JOIN mfg_integration_contract c ON c.id = e.contract_id
                 WHERE e.state IN %(pending)s AND e.system_id = ANY(%(ids)s)
                 GROUP BY e.system_id
            ), latency AS (
                SELECT e.system_id,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY e.latency_s) AS p95,
                       COUNT(*) FILTER (WHERE e.latency_s > c.sla_latency_seconds) AS late
                  FROM mfg_integration_event e
                  JOIN mfg_integration_contract c ON c.id = e.contract_id
                 WHERE e.received_at >= %(since)s AND e.state = 'done'
                   AND e.latency_s IS NOT NULL AND e.system_id = ANY(%(ids)s)
                 GROUP BY e.system_id
            ), exceptions AS (
                SELECT system_id, COUNT(*) AS open
                  FROM mfg_integration_exception
                 WHERE state IN ('open', 'in_progress') AND system_id = ANY(%(ids)s)
                 GROUP BY system_id
            )
            SELECT s.id, t.received, t.done, t.failed, t.duplicates, p.backlog,
                   EXTRACT(EPOCH FROM %(now)s - p.oldest), l.p95,
                   COALESCE(l.late, 0) + COALESCE(p.late, 0), x.open
              FROM unnest(%(ids)s::int[]) AS s(id)
              LEFT JOIN traffic t ON t.system_id = s.id
              LEFT JOIN pending p ON p.system_id = s.id
              LEFT JOIN latency l ON l.system_id = s.id
              LEFT JOIN exceptions x ON x.system_id = s.id
            """,
            {
                "ids": list(system_ids),
                "now": now,
                "since": now - timedelta(hours=24),
                "pending": PENDING,
            },
        )
        return {
            row[0]: dict(zip(OVERVIEW_FIGURES, row[1:], strict=True))
            for row in self.env.cr.fetchall()
        }

    # -- Prometheus ---------------------------------------------------------------------

    @api.model
    def _check_token(self, token):
        """Whether ``token`` is the metrics token (only its SHA-256 is stored)."""
        stored = self.env["ir.config_parameter"].sudo().get_param(HASH_PARAMETER)
        if not stored or not token:
            return False
        return hmac.compare_digest(stored, hashlib.sha256(token.encode()).hexdigest())

    @api.model
    def _new_token(self):
        """A new metrics token (the previous one stops working); returned once in clear."""
        token = secrets.token_urlsafe(32)
        self.env["ir.config_parameter"].sudo().set_param(
            HASH_PARAMETER, hashlib.sha256(token.encode()).hexdigest()
        )
        return token

    @api.model
    def _revoke_token(self):
        self.env["ir.config_parameter"].sudo().set_param(HASH_PARAMETER, False)

    @api.model
    def _render(self):
        """The Prometheus text exposition (format 0.0.4) of the integration's figures."""
        cr = self.env.cr
        self.env.flush_all()
        out = []
        cr.execute(
            """
            SELECT s.code, COALESCE(c.code, ''), COALESCE(c.version, ''),
                   SUM(t.received), SUM(t.done), SUM(t.failed), SUM(t.duplicates),
                   SUM(t.rejected), SUM(t.latency_sum)
              FROM mfg_integration_traffic t
              JOIN mfg_integration_system s ON s.id = t.system_id
              LEFT JOIN mfg_integration_contract c ON c.id = t.contract_id
             GROUP BY s.code, c.code, c.version
             ORDER BY s.code, c.code, c.version
            """
        )
        traffic = cr.fetchall()
        columns = {"received": 3, "done": 4, "failed": 5, "duplicates": 6}
        for metric, help_text, column in TRAFFIC_COUNTERS:
            _family(out, metric, "counter", help_text)
            for row in traffic:
                if row[1]:
                    out.append(_sample(metric, _labels(row), row[columns[column]]))
        _family(
            out,
            "mfg_integration_events_rejected_total",
            "counter",
            "Events refused by the API (malformed, unknown or forbidden contract, invalid).",
        )
        rejected = {}
        for row in traffic:
            rejected[row[0]] = rejected.get(row[0], 0) + (row[7] or 0)
        for system, count in sorted(rejected.items()):
            out.append(_sample("mfg_integration_events_rejected_total", {"system": system}, count))

        cr.execute(
            """
            SELECT s.code, c.code, c.version, COUNT(*),
                   GREATEST(0, EXTRACT(EPOCH FROM %s - MIN(e.received_at)))
              FROM mfg_integration_event e
              JOIN mfg_integration_system s ON s.id = e.system_id
              JOIN mfg_integration_contract c ON c.id = e.contract_id
             WHERE e.state IN %s
             GROUP BY s.code, c.code, c.version
             ORDER BY s.code, c.code, c.version
            """,
            # the clock that stamped received_at: PostgreSQL's now() is the transaction's start
            [fields.Datetime.now(), PENDING],
        )
        pending = cr.fetchall()
        _family(out, "mfg_integration_backlog_events", "gauge", "Events received, not yet applied.")
        for row in pending:
            out.append(_sample("mfg_integration_backlog_events", _labels(row), row[3]))
        _family(
            out,
            "mfg_integration_oldest_waiting_age_seconds",
            "gauge",
            "Age of the oldest event not yet applied.",
        )
        for row in pending:
            out.append(_sample("mfg_integration_oldest_waiting_age_seconds", _labels(row), row[4]))

        cr.execute(
            """
            SELECT s.code, c.code, c.version,
                   percentile_cont(%s::float8[]) WITHIN GROUP (ORDER BY e.latency_s)
              FROM mfg_integration_event e
              JOIN mfg_integration_system s ON s.id = e.system_id
              JOIN mfg_integration_contract c ON c.id = e.contract_id
             WHERE e.received_at >= now() at time zone 'utc' - interval '1 hour'
               AND e.state = 'done' AND e.latency_s IS NOT NULL
             GROUP BY s.code, c.code, c.version
             ORDER BY s.code, c.code, c.version
            """,
            [list(QUANTILES)],
        )
        quantiles = {row[:3]: row[3] for row in cr.fetchall()}
        metric = "mfg_integration_event_latency_seconds"
        _family(
            out,
            metric,
            "summary",
            "From occurrence at the source to applied in Odoo; quantiles over the events "
            "received in the last hour, sum and count since the start.",
        )
        for row in traffic:
            if not row[1]:
                continue
            labels = _labels(row)
            for quantile, value in zip(QUANTILES, quantiles.get(row[:3]) or (), strict=False):
                out.append(_sample(metric, dict(labels, quantile=str(quantile)), value))
            out.append(_sample(f"{metric}_sum", labels, row[8] or 0))
            out.append(_sample(f"{metric}_count", labels, row[4] or 0))

        cr.execute(
            """
            SELECT s.code, x.category, COUNT(*)
              FROM mfg_integration_exception x
              JOIN mfg_integration_system s ON s.id = x.system_id
             WHERE x.state IN ('open', 'in_progress')
             GROUP BY s.code, x.category
             ORDER BY s.code, x.category
            """
        )
        _family(
            out,
            "mfg_integration_open_exceptions",
            "gauge",
            "Exceptions waiting for a person, by category (business or technical).",
        )
        for system, category, count in cr.fetchall():
            out.append(
                _sample(
                    "mfg_integration_open_exceptions",
                    {"system": system, "category": category},
                    count,
                )
            )

        cr.execute(
            """
            SELECT code, circuit_state, EXTRACT(EPOCH FROM last_seen_at)
              FROM mfg_integration_system WHERE active ORDER BY code
            """
        )
        systems = cr.fetchall()
        circuit_field = self.env["mfg.integration.system"]._fields["circuit_state"]
        states = [key for key, _label in circuit_field.selection]
        _family(
            out,
            "mfg_integration_circuit_state",
            "gauge",
            "Outbound circuit breaker: 1 for the system's current state.",
        )
        for code, current, _seen in systems:
            for state in states:
                out.append(
                    _sample(
                        "mfg_integration_circuit_state",
                        {"system": code, "state": state},
                        int(state == current),
                    )
                )
        _family(
            out,
            "mfg_integration_last_seen_timestamp_seconds",
            "gauge",
            "When the system last called the API (Unix time).",
        )
        for code, _current, seen in systems:
            if seen is not None:
                out.append(
                    _sample("mfg_integration_last_seen_timestamp_seconds", {"system": code}, seen)
                )
        return "\n".join(out) + "\n"


def _labels(row):
    return {"system": row[0], "contract": row[1], "version": row[2]}


def _family(out, metric, kind, help_text):
    out.append(f"# HELP {metric} {help_text}")
    out.append(f"# TYPE {metric} {kind}")


def _sample(metric, labels, value):
    text = ",".join(f'{name}="{_escape(value_)}"' for name, value_ in labels.items())
    return f"{metric}{{{text}}} {_number(value)}"


def _escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value):
    if value is None:
        return "NaN"
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)
