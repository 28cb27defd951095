"""The dispatcher: one job at a time per system delivers its ready outbound events.

Invariants: a round claims queued, due events in subject order with FOR UPDATE SKIP
LOCKED, and never one whose earlier event of the subject is still pending (failed, dead,
or queued but not due); it delivers them through the system's adapter (of an installed
module), writes outcomes set-based (outbox/outcomes.py), and plans the next round. A pg
advisory lock keeps a second dispatcher of the same system out.
"""

import json
import time
from datetime import UTC, timedelta

from odoo import SUPERUSER_ID, _, fields

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..services import maintenance_windows
from ..services.adapters import Message
from ..services.adapters import registry as adapter_registry
from ..services.delivery_policy import Breaker, breaker_after_round, breaker_gate
from ..services.envelope import dataschema_uri
from ..services.event_states import PENDING_STATES
from ..services.outbound_delivery import deliver_in_order
from ..services.registry import installed_modules
from .outcomes import record_outcomes

DISPATCH_CHANNEL = "root.mfg_integration"
# Events one dispatch round claims, and how long it starts new deliveries: a round's
# transaction (and its row locks) stays short, well under the workers' time limit.
ROUND_LIMIT = 1000
ROUND_SECONDS = 40
# A dispatcher that finds another one running for its system looks again this much later.
LOCKED_RETRY_SECONDS = 2
# pg advisory lock namespace of the per-system dispatcher (first key of the pair)
DISPATCH_LOCK_NAMESPACE = 7301
# Delivery order of a system's outbound events. It is SUBJECT_ORDER for events that all
# carry a sequence (emit gives every outbound event one), and the outbox index's order.
OUTBOX_ORDER = "subject, occurred_at, sequence, id"
# Pending outbound events with their position in their system's subject: only the first
# (position 1) of a subject can be due before the others.
OUTBOX_HEADS = """
    SELECT e.system_id, e.subject, e.state, e.next_attempt_at,
           row_number() OVER (
               PARTITION BY e.system_id, e.subject ORDER BY e.occurred_at, e.sequence, e.id
           ) AS position
      FROM mfg_integration_event e
     WHERE e.direction = 'outbound' AND e.state IN %(pending)s {system_filter}
"""


def dispatch_identity(system_id):
    return f"mfg_outbound_dispatch:{system_id}"


def schedule_dispatch(env, system_ids, eta=None):
    """Make sure a dispatcher job for each system runs at ``eta`` (naive UTC) or
    sooner; one that is already planned early enough is reused."""
    system_ids = sorted(set(system_ids))
    if not system_ids:
        return
    keys = {dispatch_identity(system_id): system_id for system_id in system_ids}
    env["queue.job"].flush_model()
    env.cr.execute(
        """
        SELECT identity_key, eta FROM queue_job
         WHERE identity_key = ANY(%s) AND state IN ('wait_dependencies', 'pending', 'enqueued')
        """,
        [list(keys)],
    )
    slack = timedelta(seconds=LOCKED_RETRY_SECONDS)
    target = eta or fields.Datetime.now()
    planned = {
        keys[key]
        for key, planned_eta in env.cr.fetchall()
        if planned_eta is None or planned_eta <= target + slack
    }
    systems = env["mfg.integration.system"].sudo().browse(system_ids)
    names = {system.id: system.code for system in systems}
    for system_id in system_ids:
        if system_id in planned:
            continue
        Job(
            env["mfg.integration.event"].with_user(SUPERUSER_ID).sudo()._dispatch_system,
            args=(system_id,),
            eta=eta,
            channel=DISPATCH_CHANNEL,
            description=f"Deliver outbound events to {names.get(system_id, system_id)}",
            identity_key=dispatch_identity(system_id),
        ).store()


def dispatch_system(env, system_id):
    """Job: one delivery round for one system (only one runs at a time per system)."""
    system = env["mfg.integration.system"].sudo().browse(system_id).exists()
    if not system or not system.active or not system.outbound_adapter:
        return "The system is gone, archived or has no delivery adapter: nothing sent."
    env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [DISPATCH_LOCK_NAMESPACE, system.id])
    if not env.cr.fetchone()[0]:
        raise RetryableJobError(
            "Another dispatcher is delivering to this system",
            seconds=LOCKED_RETRY_SECONDS,
            ignore_retry=True,
        )
    refusal = system._environment_refusal()
    if refusal:
        # nothing is delivered across environments; the events wait (a change of the
        # system's environment plans a dispatcher again)
        return f"Not delivered: {refusal}"
    now = fields.Datetime.now()
    if system.outbound_resume_at and system.outbound_resume_at > now:
        schedule_dispatch(env, [system.id], eta=system.outbound_resume_at)
        return f"Paused until {system.outbound_resume_at} (Retry-After)"
    maintenance_end = maintenance_windows.paused_until(env, system.ids, now, "outbound")
    if maintenance_end:
        until = maintenance_end[system.id]
        schedule_dispatch(env, [system.id], eta=until)
        return f"Paused until {until} (maintenance window)"
    breaker = Breaker(
        system.circuit_state, _aware(system.circuit_opened_at), system.consecutive_failures
    )
    gate, until = breaker_gate(breaker, system.circuit_cooldown_seconds, _aware(now))
    if gate == "wait":
        schedule_dispatch(env, [system.id], eta=until.astimezone(UTC).replace(tzinfo=None))
        return f"Circuit open until {until}"
    probing = gate == "probe"
    if probing and system.circuit_state != "half_open":
        system.circuit_state = "half_open"
    messages = claim_outbound(env, system, now, 1 if probing else ROUND_LIMIT)
    outcomes = {}
    if messages:
        settings = system._delivery_settings()
        adapter = adapter_registry.instance(
            system.outbound_adapter, settings, installed_modules(env)
        )
        outcomes = deliver_in_order(
            adapter,
            messages,
            lanes=1 if probing else system.outbound_parallel,
            batch_size=system.outbound_batch_size,
            deadline=time.monotonic() + ROUND_SECONDS,
            stop_after_failures=max(
                1, system.circuit_failure_threshold - system.consecutive_failures
            ),
        )
    record_outcomes(env, outcomes)
    update_breaker(env, system, breaker, outcomes, probing)
    plan_next_round(env, system, claimed=len(messages))
    delivered = sum(1 for outcome in outcomes.values() if outcome.status == "delivered")
    return f"{delivered} of {len(messages)} claimed events delivered"


def claim_outbound(env, system, now, limit):
    """Lock this round's events: queued and due, and not held by an earlier event of
    their subject (failed, dead, or queued but not due yet); in subject order.

    One pass over the system's pending events in the outbox index's order, with a
    window per subject, instead of a lookup of earlier events per candidate.
    """
    env["mfg.integration.event"].flush_model()
    env.cr.execute(
        f"""
        SELECT id, subject FROM (
            SELECT e.id, e.subject, e.occurred_at, e.sequence, e.state, e.next_attempt_at,
                   bool_or(e.state <> 'queued' OR e.next_attempt_at > %(now)s) OVER (
                       PARTITION BY e.subject ORDER BY e.occurred_at, e.sequence, e.id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS held
              FROM mfg_integration_event e
             WHERE e.system_id = %(system)s AND e.direction = 'outbound'
               AND e.state IN %(pending)s
        ) AS outbox
         WHERE state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
           AND (subject IS NULL OR NOT COALESCE(held, FALSE))
         ORDER BY {OUTBOX_ORDER}
         LIMIT %(limit)s
        """,
        {"system": system.id, "now": now, "pending": PENDING_STATES, "limit": limit},
    )
    candidates = env.cr.fetchall()
    if not candidates:
        return []
    env.cr.execute(
        """
        SELECT id FROM mfg_integration_event
         WHERE id = ANY(%s) AND state = 'queued'
           FOR UPDATE SKIP LOCKED
        """,
        [[event_id for event_id, _subject in candidates]],
    )
    locked = {row[0] for row in env.cr.fetchall()}
    # an event another transaction holds (or that changed) stops its subject here:
    # a later one must not overtake it
    ids, stopped = [], set()
    for event_id, subject in candidates:
        if subject is not None and subject in stopped:
            continue
        if event_id in locked:
            ids.append(event_id)
        elif subject is not None:
            stopped.add(subject)
    if not ids:
        return []
    env.cr.execute(
        """
        SELECT e.id, e.event_uid, e.source, e.event_type, e.contract_version, e.subject,
               e.sequence, e.correlation_id, e.causation_id, e.occurred_at, e.payload,
               COALESCE(c.batch_delivery, FALSE)
          FROM mfg_integration_event e
          LEFT JOIN mfg_integration_contract c ON c.id = e.contract_id
         WHERE e.id = ANY(%s)
        """,
        [ids],
    )
    by_id = {row[0]: row for row in env.cr.fetchall()}
    return [_message(by_id[event_id]) for event_id in ids]


def update_breaker(env, system, breaker, outcomes, probing):
    if not outcomes:
        return
    now = fields.Datetime.now()
    results = list(outcomes.values())
    after, transition = breaker_after_round(
        breaker, results, system.circuit_failure_threshold, _aware(now), probing=probing
    )
    waits = [o.retry_after for o in results if o.status == "technical" and o.retry_after]
    values = {"consecutive_failures": after.consecutive_failures}
    if waits:
        values["outbound_resume_at"] = now + timedelta(seconds=max(waits))
    if transition == "closed":
        system._close_circuit(
            _("Delivery succeeded again: circuit breaker closed, delivery resumes.")
        )
    elif transition in ("opened", "reopened"):
        last = next(o.summary for o in reversed(results) if o.status == "technical")
        system._open_circuit(now, after.consecutive_failures, last)
    system.write(values)


def plan_next_round(env, system, claimed):
    """Schedule the next round: now if due events are left, else when the earliest
    retry is due; none when every remaining event waits for a person.

    Only the first pending event of each subject can be due before the others, so
    the earliest due time among those is when the next round has work.
    """
    env["mfg.integration.event"].flush_model()
    env.cr.execute(
        f"""
        SELECT min(COALESCE(next_attempt_at, %(now)s))
          FROM ({OUTBOX_HEADS.format(system_filter="AND e.system_id = %(system)s")}) AS heads
         WHERE state = 'queued' AND (subject IS NULL OR position = 1)
        """,
        {"now": fields.Datetime.now(), "system": system.id, "pending": PENDING_STATES},
    )
    due = env.cr.fetchone()[0]
    if due is None:
        return
    now = fields.Datetime.now()
    if not claimed and due <= now:
        # due events another transaction holds: look again shortly, do not spin
        due = now + timedelta(seconds=LOCKED_RETRY_SECONDS)
    schedule_dispatch(env, [system.id], eta=due if due > now else None)


def resume_stalled(env):
    """The outbox's safety net: a dispatcher for every system with due outbound events
    (after a crash killed a round and the job that would have followed it)."""
    env["mfg.integration.event"].flush_model()
    now = fields.Datetime.now()
    env.cr.execute(
        f"""
        SELECT DISTINCT system_id FROM ({OUTBOX_HEADS.format(system_filter="")}) AS heads
         WHERE state = 'queued' AND (subject IS NULL OR position = 1)
           AND COALESCE(next_attempt_at, %(now)s) <= %(now)s
        """,
        {"now": now, "pending": PENDING_STATES},
    )
    schedule_dispatch(env, [row[0] for row in env.cr.fetchall()])


def _message(row):
    """The adapter's Message of a claimed row: its CloudEvents envelope, rebuilt."""
    (event_id, uid, source, event_type, version, subject, sequence, correlation, causation,
     occurred, payload, batchable) = row  # fmt: skip
    envelope = {
        "specversion": "1.0",
        "id": uid,
        "source": source,
        "type": event_type,
        "dataschema": dataschema_uri(event_type, version),
        "time": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "datacontenttype": "application/json",
    }
    for name, value in (
        ("subject", subject),
        ("sequence", sequence),
        ("correlationid", correlation),
        ("causationid", causation),
    ):
        if value:
            envelope[name] = value
    envelope["data"] = payload if not isinstance(payload, str) else json.loads(payload)
    return Message(event_id, envelope, subject, correlation, bool(batchable))


def _aware(value):
    return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value
