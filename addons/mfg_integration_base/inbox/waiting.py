"""Events held behind a failed one: how many later events of a subject wait for a person.

An event that failed (business) or died (technical) keeps its subject's later events waiting,
so that they are applied in order once it is fixed (services/event_states.SUBJECT_ORDER). A
planner must see what an open exception holds up, and the overview how much waits per system:
two set-based queries on the subject order index, never one per event.
"""

from ..services.event_states import PENDING_STATES

BLOCKING_STATES = ("failed", "dead")
# Later events not yet applied (a failed or dead one behind another is counted by its own
# exception too, so it stays in the count: it also waits for the first to be fixed).
_HELD_STATES = PENDING_STATES

_LATER = """
    w.subject = f.subject
    AND w.direction = f.direction
    AND w.state IN %(held)s
    AND w.id <> f.id
    AND (w.occurred_at, COALESCE(w.sequence, ''), w.id)
        > (f.occurred_at, COALESCE(f.sequence, ''), f.id)
"""


def waiting_behind_events(env, event_ids):
    """{failed event id: ids of the later events of its subject that wait behind it}."""
    if not event_ids:
        return {}
    env["mfg.integration.event"].flush_model()
    env.cr.execute(
        f"""
        SELECT f.id, array_agg(w.id ORDER BY w.occurred_at, w.id)
          FROM mfg_integration_event f
          JOIN mfg_integration_event w ON {_LATER}
         WHERE f.id IN %(ids)s AND f.subject IS NOT NULL
         GROUP BY f.id
        """,  # _LATER is a constant fragment; every value is a parameter
        {"ids": tuple(event_ids), "held": _HELD_STATES},
    )
    return dict(env.cr.fetchall())


def waiting_behind_failures_per_system(env, system_ids):
    """{system id: its events not yet applied that wait behind a failed or dead event of
    their subject}, whoever sent the failed one."""
    if not system_ids:
        return {}
    env["mfg.integration.event"].flush_model()
    env.cr.execute(
        f"""
        SELECT w.system_id, COUNT(*)
          FROM mfg_integration_event w
         WHERE w.system_id IN %(systems)s
           AND w.subject IS NOT NULL
           AND w.state IN %(held)s
           AND EXISTS (
               SELECT 1 FROM mfg_integration_event f
                WHERE f.state IN %(blocking)s AND f.subject IS NOT NULL AND {_LATER}
           )
         GROUP BY w.system_id
        """,  # _LATER is a constant fragment; every value is a parameter
        {"systems": tuple(system_ids), "held": _HELD_STATES, "blocking": BLOCKING_STATES},
    )
    return dict(env.cr.fetchall())
