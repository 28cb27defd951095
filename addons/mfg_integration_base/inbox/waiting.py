"""Events held behind a failed one: how many later events of a subject wait for a person.

An event that failed (business) or died (technical) keeps its subject's later events waiting,
so that they are applied in order once it is fixed (services/event_states.SUBJECT_ORDER). A
planner must see what an open exception holds up, and the overview how much waits per system:
two set-based queries on the subject order index, never one per event.
"""

from ..services.event_states import P_AHEAD_OF_E, PENDING_STATES

BLOCKING_STATES = ("failed", "dead")


def waiting_behind_events(env, event_ids):
    """{failed event id: ids of the later events of its subject not yet applied}. A failed or
    dead event behind another counts too: it also waits for the first to be fixed."""
    if not event_ids:
        return {}
    env["mfg.integration.event"].flush_model()
    env.cr.execute(
        f"""
        SELECT p.id, array_agg(e.id ORDER BY e.occurred_at, e.id)
          FROM mfg_integration_event p
          JOIN mfg_integration_event e ON e.state IN %(pending)s AND {P_AHEAD_OF_E}
         WHERE p.id IN %(ids)s AND p.subject IS NOT NULL
         GROUP BY p.id
        """,
        {"ids": tuple(event_ids), "pending": PENDING_STATES},
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
        SELECT e.system_id, COUNT(*)
          FROM mfg_integration_event e
         WHERE e.system_id IN %(systems)s
           AND e.subject IS NOT NULL
           AND e.state IN %(pending)s
           AND EXISTS (
               SELECT 1 FROM mfg_integration_event p
                WHERE p.state IN %(blocking)s AND {P_AHEAD_OF_E}
           )
         GROUP BY e.system_id
        """,
        {"systems": tuple(system_ids), "pending": PENDING_STATES, "blocking": BLOCKING_STATES},
    )
    return dict(env.cr.fetchall())
