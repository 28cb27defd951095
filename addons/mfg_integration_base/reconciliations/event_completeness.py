from datetime import datetime, time, timedelta

from ..services.reconciliation import Row, registry

# Types a sender does not count in its daily summaries: a summary cannot count itself, and
# the edge agent sends heartbeats outside its store. Used when a rule names no contracts.
UNCOUNTED_PREFIX = "integration."
UNCOUNTED_TYPES = ("edge.heartbeat",)
# Sources stamp events with their own clock: received_at may precede occurred_at by this
# much. The bound lets PostgreSQL use the BRIN index on received_at.
CLOCK_SKEW = timedelta(days=1)


def finished_days(start, end):
    """[first day, day after the last) of the whole UTC days inside [start, end)."""
    first = start.date() if start.time() == time(0) else start.date() + timedelta(days=1)
    return first, max(first, end.date())


@registry.kind("event_completeness", "Event completeness (sent vs received per day)")
def compare_event_completeness(rule, start, end):
    """Per contract and finished day: events the system reports it sent (its
    integration.sent.summary reports) against events Odoo received from it.

    Rejected events do not count as received: whatever was lost anywhere on the path shows
    up as the difference. A day reported with nothing received is missing in Odoo; a day
    received but never reported is missing externally (its report is late or lost).
    """
    first_day, last_day = finished_days(start, end)
    window_start = datetime.combine(first_day, time(0))
    window_end = datetime.combine(last_day, time(0))
    types = sorted(set(rule.contract_ids.mapped("code")))
    cr = rule.env.cr
    rule.env.flush_all()
    cr.execute(
        """
        WITH received AS (
            SELECT e.event_type, e.occurred_at::date AS day, COUNT(*) AS n
              FROM mfg_integration_event e
             WHERE e.system_id = %(system)s
               AND e.direction = 'inbound'
               AND e.state <> 'rejected'
               AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
               AND e.received_at >= %(received_from)s
               AND (CASE WHEN %(scoped)s THEN e.event_type = ANY(%(types)s::varchar[])
                         ELSE e.event_type NOT LIKE %(uncounted_prefix)s
                              AND NOT e.event_type = ANY(%(uncounted)s::varchar[]) END)
             GROUP BY 1, 2
        ), reported AS (
            SELECT c.event_type, c.day, c.reported_count AS n
              FROM mfg_integration_sent_count c
             WHERE c.system_id = %(system)s
               AND c.day >= %(first_day)s AND c.day < %(last_day)s
               AND (NOT %(scoped)s OR c.event_type = ANY(%(types)s::varchar[]))
        )
        SELECT COALESCE(r.event_type, s.event_type), COALESCE(r.day, s.day), r.n, s.n
          FROM received r
          FULL JOIN reported s ON s.event_type = r.event_type AND s.day = r.day
         ORDER BY 2, 1
        """,
        {
            "system": rule.system_id.id,
            "start": window_start,
            "end": window_end,
            "received_from": window_start - CLOCK_SKEW,
            "first_day": first_day,
            "last_day": last_day,
            "scoped": bool(types),
            "types": types,
            "uncounted_prefix": UNCOUNTED_PREFIX.replace("_", r"\_") + "%",
            "uncounted": list(UNCOUNTED_TYPES),
        },
    )
    code = rule.system_id.code
    for event_type, day, received, reported in cr.fetchall():
        yield Row(
            key=f"{code}/{event_type}/{day.isoformat()}",
            odoo_value=received,
            external_value=reported,
            label=f"{event_type} on {day.isoformat()}",
        )
