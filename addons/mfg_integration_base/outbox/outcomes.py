"""Outcomes of a dispatch round, and the outbox's own failure path.

Delivered events are done and retries are rescheduled set-based (per the contract's retry
policy, honouring Retry-After). A receiver's refusal (4xx) fails the event with a business
exception; the last failed attempt makes it dead with a technical one. Either way later
events of its subject wait until a person replays or discards it. The round's outcomes are
added to the hourly traffic counters in the same transaction, in one statement.
"""

from datetime import timedelta

from psycopg2.extras import execute_values

from odoo import _, fields

from ..services.delivery_policy import retry_delay
from ..services.error_classes import RETRYABLE_CLASSES, classify


def record_outcomes(env, outcomes):
    """Write a round's outcomes: done set-based; retries set-based; business refusals
    and dead events (rare) each with their exception; then count them all at once."""
    if not outcomes:
        return
    now = fields.Datetime.now()
    delivered = [event_id for event_id, o in outcomes.items() if o.status == "delivered"]
    if delivered:
        env.cr.execute(
            """
            UPDATE mfg_integration_event
               SET state = 'done', attempts = attempts + 1, processed_at = %(now)s,
                   latency_s = GREATEST(0, EXTRACT(EPOCH FROM %(now)s - occurred_at)),
                   next_attempt_at = NULL, error = NULL, error_code = NULL,
                   write_date = %(now)s, write_uid = %(uid)s
             WHERE id = ANY(%(ids)s)
            """,
            {"now": now, "uid": env.uid, "ids": delivered},
        )
    failed = env["mfg.integration.event"].browse([event_id for event_id, o in outcomes.items()
                          if o.status in ("business", "technical")])  # fmt: skip
    retries, refused, dead = [], [], []
    for event in failed:
        outcome = outcomes[event.id]
        contract = event.contract_id
        attempts = event.attempts + 1
        retryable = (
            classify(
                category=outcome.status,
                http_status=outcome.http_status,
                explicit=outcome.error_class,
            )
            in RETRYABLE_CLASSES
        )
        if outcome.status == "business" and not (retryable and attempts < contract.max_attempts):
            fail_refused(event, outcome)
            refused.append(event.id)
            continue
        if attempts >= contract.max_attempts:
            fail_dead(event, outcome, attempts)
            dead.append(event.id)
            continue
        delay = retry_delay(
            attempts, contract.retry_base_seconds, contract.retry_max_seconds,
            outcome.retry_after,
        )  # fmt: skip
        retries.append((event.id, attempts, now + timedelta(seconds=delay), outcome.summary))
    env["mfg.integration.event"].flush_model()
    if retries:
        execute_values(
            env.cr._obj,
            """
            UPDATE mfg_integration_event e
               SET attempts = r.attempts, next_attempt_at = r.eta, error = r.error,
                   error_code = 'delivery_failed', write_date = now() at time zone 'utc'
              FROM (VALUES %s) AS r(id, attempts, eta, error)
             WHERE e.id = r.id
            """,
            retries,
            template="(%s, %s, %s::timestamp, %s)",
        )
    env["mfg.integration.traffic"]._add_deliveries(
        delivered, [event_id for event_id, *_rest in retries], refused, dead
    )
    env["mfg.integration.event"].invalidate_model()


def fail_refused(event, outcome):
    """The receiver refused the event (business): failed, with an exception to work."""
    event.ensure_one()
    exception = event.env["mfg.integration.exception"]._open_for_event(
        event,
        category="business",
        reason_code="delivery_refused",
        message=_(
            "%(system)s refused %(type)s for %(subject)s: %(answer)s",
            system=event.system_id.name,
            type=event.event_type,
            subject=event.subject or event.event_uid,
            answer=outcome.summary,
        ),
        suggested_action=_(
            "Read the receiver's answer, fix the data or the receiver's configuration, "
            "then replay the event (or discard it with a reason). Later events of this "
            "subject wait for it."
        ),
        key_fields={"http_status": outcome.http_status},
        error_class=outcome.error_class,
        http_status=outcome.http_status,
    )
    _mark_failed(event, "failed", exception, "delivery_refused", exception.name)
    return "failed"


def fail_dead(event, outcome, attempts):
    """The last delivery attempt failed (technical): dead, with an exception to work."""
    event.ensure_one()
    summary = outcome.summary
    exception = event.env["mfg.integration.exception"]._open_for_event(
        event,
        category="technical",
        reason_code="retries_exhausted",
        message=_(
            "%(type)s event could not be delivered to %(system)s after %(n)s attempts",
            type=event.event_type,
            system=event.system_id.name,
            n=attempts,
        ),
        suggested_action=_(
            "Read the receiver's last answer, fix the cause (endpoint, credentials, the "
            "receiving system), then replay the event."
        ),
        details=summary,
        error_class=outcome.error_class,
        http_status=outcome.http_status,
    )
    _mark_failed(event, "dead", exception, "retries_exhausted", summary)
    return "dead"


def _mark_failed(event, state, exception, error_code, error):
    event.write(
        {
            "state": state,
            "attempts": event.attempts + 1,
            "error_code": error_code,
            "error": error,
            "exception_id": exception.id,
            "next_attempt_at": False,
        }
    )
