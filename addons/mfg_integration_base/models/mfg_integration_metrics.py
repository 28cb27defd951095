import hashlib
import hmac
import secrets
from datetime import timedelta

from odoo import api, fields, models

from ..services.metric_names import HELP, KIND

HASH_PARAMETER = "mfg_integration_base.metrics_token_sha256"
PENDING = ("received", "queued", "processing", "waiting")
QUANTILES = (0.5, 0.9, 0.95, 0.99)
# The overview's figures per system, in the order _system_overview selects them; all but
# the latencies are counts (and an age in seconds).
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
    "delivered_24h",
    "delivery_failed_24h",
    "dead_24h",
    "retries_24h",
    "delivery_latency_p95_s",
    "last_delivery_age_s",
)
OVERVIEW_LATENCIES = ("latency_p95_s", "delivery_latency_p95_s")
# Pending events per direction, system and contract (parameters: now, PENDING): aggregated
# from an index-only scan of their partial index, then joined to the few names.
BACKLOG_QUERY = """
    SELECT p.direction, s.code AS system, c.code AS contract, c.version, p.count,
           GREATEST(0, EXTRACT(EPOCH FROM %s - p.oldest)) AS age
      FROM (SELECT direction, system_id, contract_id, COUNT(*) AS count,
                   MIN(received_at) AS oldest
              FROM mfg_integration_event
             WHERE state IN %s
             GROUP BY direction, system_id, contract_id) p
      JOIN mfg_integration_system s ON s.id = p.system_id
      JOIN mfg_integration_contract c ON c.id = p.contract_id
     ORDER BY s.code, c.code, c.version
"""
# (metric, column of the hourly traffic counters) per direction of the contract
INBOUND_COUNTERS = (
    ("mfg_integration_events_received_total", "received"),
    ("mfg_integration_events_done_total", "done"),
    ("mfg_integration_events_failed_total", "failed"),
    ("mfg_integration_events_duplicates_total", "duplicates"),
)
OUTBOUND_COUNTERS = (
    ("mfg_integration_outbound_events_delivered_total", "delivered"),
    ("mfg_integration_outbound_events_failed_total", "delivery_failed"),
    ("mfg_integration_outbound_events_dead_total", "delivery_dead"),
    ("mfg_integration_outbound_delivery_retries_total", "delivery_retries"),
)


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
        """{system id: figures of the last 24 h} for the overview cards: what the system sent
        to Odoo (inbound) and, apart, what Odoo delivered to it (outbound). One query over the
        hourly counters, the pending events' partial index and the open exceptions, and one
        over the hourly latency histograms: nothing reads the day's events themselves."""
        if not system_ids:
            return {}
        self.env.flush_all()
        now = fields.Datetime.now()
        since = now - timedelta(hours=24)
        self.env.cr.execute(
            """
            WITH traffic AS (
                SELECT system_id, SUM(received) AS received, SUM(done) AS done,
                       SUM(failed) AS failed, SUM(duplicates) AS duplicates,
                       SUM(late) AS late,
                       SUM(delivered) AS delivered, SUM(delivery_failed) AS delivery_failed,
                       SUM(delivery_dead) AS dead, SUM(delivery_retries) AS retries,
                       MAX(last_delivered_at) AS last_delivery
                  FROM mfg_integration_traffic
                 WHERE system_id = ANY(%(ids)s) AND hour >= date_trunc('hour', %(since)s)
                 GROUP BY system_id
            ), pending AS (
                -- an index-only scan of the pending events' partial index (by direction)
                SELECT e.system_id, COUNT(*) AS backlog, MIN(e.received_at) AS oldest,
                       COUNT(*) FILTER (
                           WHERE c.sla_latency_seconds > 0
                             AND e.received_at < %(now)s
                                 - make_interval(secs => c.sla_latency_seconds)
                       ) AS late
                  FROM mfg_integration_event e
                  LEFT JOIN mfg_integration_contract c ON c.id = e.contract_id
                 WHERE e.state IN %(pending)s AND e.system_id = ANY(%(ids)s)
                   AND e.direction = 'inbound'
                 GROUP BY e.system_id
            ), exceptions AS (
                SELECT system_id, COUNT(*) AS open
                  FROM mfg_integration_exception
                 WHERE state IN ('open', 'in_progress') AND system_id = ANY(%(ids)s)
                 GROUP BY system_id
            )
            SELECT s.id, t.received, t.done, t.failed, t.duplicates, p.backlog,
                   EXTRACT(EPOCH FROM %(now)s - p.oldest), NULL,
                   COALESCE(t.late, 0) + COALESCE(p.late, 0), x.open,
                   t.delivered, t.delivery_failed, t.dead, t.retries, NULL,
                   EXTRACT(EPOCH FROM %(now)s - t.last_delivery)
              FROM unnest(%(ids)s::int[]) AS s(id)
              LEFT JOIN traffic t ON t.system_id = s.id
              LEFT JOIN pending p ON p.system_id = s.id
              LEFT JOIN exceptions x ON x.system_id = s.id
            """,
            {"ids": list(system_ids), "now": now, "since": since, "pending": PENDING},
        )
        overview = {
            row[0]: dict(zip(OVERVIEW_FIGURES, row[1:], strict=True))
            for row in self.env.cr.fetchall()
        }
        p95 = self.env["mfg.integration.latency"]._quantiles(since, (0.95,))
        for system_id, figures in overview.items():
            figures["latency_p95_s"] = (p95.get((system_id, "inbound")) or [None])[0]
            figures["delivery_latency_p95_s"] = (p95.get((system_id, "outbound")) or [None])[0]
        return overview

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
        """The Prometheus text exposition (format 0.0.4) of the integration's figures: every
        family of services/metric_names.py, inbound and outbound counters apart (by the
        direction of the contract)."""
        cr = self.env.cr
        self.env.flush_all()
        out = []
        cr.execute(
            """
            WITH t AS (
                SELECT system_id, contract_id,
                       SUM(received) AS received, SUM(done) AS done, SUM(failed) AS failed,
                       SUM(duplicates) AS duplicates, SUM(rejected) AS rejected,
                       SUM(latency_sum) AS latency_sum, SUM(delivered) AS delivered,
                       SUM(delivery_failed) AS delivery_failed,
                       SUM(delivery_dead) AS delivery_dead,
                       SUM(delivery_retries) AS delivery_retries,
                       SUM(delivery_latency_sum) AS delivery_latency_sum
                  FROM mfg_integration_traffic
                 GROUP BY system_id, contract_id
            )
            SELECT s.code AS system, COALESCE(c.code, '') AS contract,
                   COALESCE(c.version, '') AS version, c.direction,
                   SUM(t.received) AS received, SUM(t.done) AS done, SUM(t.failed) AS failed,
                   SUM(t.duplicates) AS duplicates, SUM(t.rejected) AS rejected,
                   SUM(t.latency_sum) AS latency_sum, SUM(t.delivered) AS delivered,
                   SUM(t.delivery_failed) AS delivery_failed,
                   SUM(t.delivery_dead) AS delivery_dead,
                   SUM(t.delivery_retries) AS delivery_retries,
                   SUM(t.delivery_latency_sum) AS delivery_latency_sum
              FROM t
              JOIN mfg_integration_system s ON s.id = t.system_id
              LEFT JOIN mfg_integration_contract c ON c.id = t.contract_id
             GROUP BY s.code, c.code, c.version, c.direction
             ORDER BY s.code, c.code, c.version
            """
        )
        traffic = cr.dictfetchall()
        inbound = [row for row in traffic if row["direction"] == "inbound"]
        outbound = [row for row in traffic if row["direction"] == "outbound"]
        for metric, column in INBOUND_COUNTERS:
            _family(out, metric)
            for row in inbound:
                out.append(_sample(metric, _labels(row), row[column] or 0))
        metric = "mfg_integration_events_rejected_total"
        _family(out, metric)
        rejected = {}
        for row in traffic:
            rejected[row["system"]] = rejected.get(row["system"], 0) + (row["rejected"] or 0)
        for system, count in sorted(rejected.items()):
            out.append(_sample(metric, {"system": system}, count))

        now = fields.Datetime.now()
        pending_by_direction = self._pending_by_contract(now)
        pending = pending_by_direction["inbound"]
        _family(out, "mfg_integration_backlog_events")
        for row in pending:
            out.append(_sample("mfg_integration_backlog_events", _labels(row), row["count"]))
        _family(out, "mfg_integration_oldest_waiting_age_seconds")
        for row in pending:
            out.append(
                _sample("mfg_integration_oldest_waiting_age_seconds", _labels(row), row["age"])
            )
        _summary(
            out,
            "mfg_integration_event_latency_seconds",
            inbound,
            self._last_hour_quantiles("inbound"),
            ("latency_sum", "done"),
        )

        for metric, column in OUTBOUND_COUNTERS:
            _family(out, metric)
            for row in outbound:
                out.append(_sample(metric, _labels(row), row[column] or 0))
        _summary(
            out,
            "mfg_integration_outbound_delivery_latency_seconds",
            outbound,
            self._last_hour_quantiles("outbound"),
            ("delivery_latency_sum", "delivered"),
        )
        queued = pending_by_direction["outbound"]
        _family(out, "mfg_integration_outbound_backlog_events")
        for row in queued:
            out.append(
                _sample("mfg_integration_outbound_backlog_events", _labels(row), row["count"])
            )
        metric = "mfg_integration_outbound_oldest_queued_age_seconds"
        _family(out, metric)
        for row in queued:
            out.append(_sample(metric, _labels(row), row["age"]))

        cr.execute(
            """
            SELECT code, version, sla_latency_seconds
              FROM mfg_integration_contract
             WHERE direction = 'inbound' AND state IN ('active', 'deprecated')
               AND sla_latency_seconds > 0
             ORDER BY code, version
            """
        )
        _family(out, "mfg_integration_contract_sla_seconds")
        for code, version, sla in cr.fetchall():
            out.append(
                _sample(
                    "mfg_integration_contract_sla_seconds",
                    {"contract": code, "version": version},
                    sla,
                )
            )

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
        _family(out, "mfg_integration_open_exceptions")
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
            SELECT s.code, s.circuit_state, EXTRACT(EPOCH FROM s.last_seen_at), s.kind,
                   p.name, s.environment
              FROM mfg_integration_system s
              JOIN res_company p ON p.id = s.company_id
             WHERE s.active ORDER BY s.code
            """
        )
        systems = cr.fetchall()
        circuit_field = self.env["mfg.integration.system"]._fields["circuit_state"]
        states = [key for key, _label in circuit_field.selection]
        _family(out, "mfg_integration_circuit_state")
        for code, current, _seen, _kind, _company, _environment in systems:
            for state in states:
                out.append(
                    _sample(
                        "mfg_integration_circuit_state",
                        {"system": code, "state": state},
                        int(state == current),
                    )
                )
        _family(out, "mfg_integration_last_seen_timestamp_seconds")
        for code, _current, seen, kind, _company, _environment in systems:
            if seen is not None:
                out.append(
                    _sample(
                        "mfg_integration_last_seen_timestamp_seconds",
                        {"system": code, "kind": kind},
                        seen,
                    )
                )
        # the company of each system apart (Prometheus' info-metric idiom), so that
        # `... * on (system) group_left (company) mfg_integration_system_info` splits any
        # family by plant without a label on every sample
        _family(out, "mfg_integration_system_info")
        for code, _current, _seen, kind, company, environment in systems:
            labels = {"system": code, "company": company, "environment": environment}
            out.append(_sample("mfg_integration_system_info", dict(labels, kind=kind), 1))
        return "\n".join(out) + "\n"

    def _pending_by_contract(self, now):
        """{direction: rows} of the events not yet applied (inbound) or delivered (outbound):
        count and age of the oldest, per system and contract.

        One index-only pass over the partial index of pending events (direction, system,
        contract, received_at), aggregated before the few groups are joined to their names:
        a backlog of 40,000 events is read once from the index, not twice through the state
        index and the table (see tests/bench/bench_metrics.py)."""
        self.env.cr.execute(
            BACKLOG_QUERY,
            # the clock that stamped received_at: PostgreSQL's now() is the transaction's start
            [now, PENDING],
        )
        by_direction = {"inbound": [], "outbound": []}
        for row in self.env.cr.dictfetchall():
            by_direction[row.pop("direction")].append(row)
        return by_direction

    def _last_hour_quantiles(self, direction):
        """{(system, contract, version): quantiles of the latency} of the events of
        ``direction`` applied (inbound) or delivered (outbound) in the current and the
        previous clock hour, from the hourly latency histograms."""
        since = fields.Datetime.now() - timedelta(hours=1)
        quantiles = self.env["mfg.integration.latency"]._quantiles(since, QUANTILES, "contract")
        return {key[:3]: values for key, values in quantiles.items() if key[3] == direction}


def _summary(out, metric, rows, quantiles, sum_and_count):
    """A summary family: last-hour quantiles, and sum and count from the hourly counters."""
    _family(out, metric)
    sum_column, count_column = sum_and_count
    for row in rows:
        labels = _labels(row)
        key = (row["system"], row["contract"], row["version"])
        for quantile, value in zip(QUANTILES, quantiles.get(key) or (), strict=False):
            out.append(_sample(metric, dict(labels, quantile=str(quantile)), value))
        out.append(_sample(f"{metric}_sum", labels, row[sum_column] or 0))
        out.append(_sample(f"{metric}_count", labels, row[count_column] or 0))


def _labels(row):
    return {"system": row["system"], "contract": row["contract"], "version": row["version"]}


def _family(out, metric):
    out.append(f"# HELP {metric} {HELP[metric]}")
    out.append(f"# TYPE {metric} {KIND[metric]}")


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
