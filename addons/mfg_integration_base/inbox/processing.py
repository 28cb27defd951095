"""Processing: a job applies its chunk of inbound events through their handlers.

Invariants: events are claimed with FOR UPDATE SKIP LOCKED and applied in subject order,
each in its own savepoint; an event's state and its business effect commit together; a
later event of a subject waits while an earlier one is pending. Failure paths: business
errors open an exception at once (failed), missing prerequisites wait (bounded), technical
errors retry with backoff until the contract's attempts are spent (dead). A concurrency
conflict (another job holds or changed the same rows: a lock, a serialization failure, a
deadlock) is nobody's error: the job keeps what it applied, and the conflicting event and
the rest of its chunk go to a new job a moment later, without spending an attempt.
"""

import logging
import random
import traceback
from datetime import timedelta

from psycopg2 import DataError, OperationalError

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY

from ..services import maintenance_windows
from ..services.backoff import backoff_delay
from ..services.error_classes import RETRYABLE_CLASSES, classify
from ..services.errors import BusinessError, PrerequisiteMissing
from ..services.event_states import P_AHEAD_OF_E, PENDING_STATES, SUBJECT_ORDER, precise_now
from ..services.handler_registry import moot_checks
from ..services.handler_registry import registry as handler_registry
from ..services.registry import installed_modules
from . import jobs, shadow_run

_logger = logging.getLogger(__name__)

# A chunk stopped by a concurrency conflict resumes after this many seconds (jittered, so two
# jobs that collided do not collide again in step).
CONFLICT_RETRY_SECONDS = (0.5, 2.0)
# A waiting event is checked again after this many seconds (see schedule_order_checks).
ORDER_CHECK_SECONDS = 5


def process_chunk(events):
    """Job: apply the chunk's events in subject order, each in its own savepoint.

    Events are claimed with FOR UPDATE SKIP LOCKED: a concurrent job (a requeued one
    after a crash) skips them instead of applying them twice. An event's state and
    its business effect commit together, so a crash leaves it queued, not half done.
    """
    events = events.sudo()
    events.flush_model()
    events.env.cr.execute(
        f"""
        SELECT id FROM mfg_integration_event
         WHERE id = ANY(%s) AND state IN ('received', 'queued', 'waiting')
         ORDER BY {SUBJECT_ORDER}
           FOR UPDATE SKIP LOCKED
        """,
        [list(events.ids)],
    )
    claimed = events.browse([row[0] for row in events.env.cr.fetchall()])
    claimed = hold_for_maintenance(claimed)
    blocked = blocked_by_earlier(claimed)
    held_subjects = set()  # an event of the subject failed or waits in this chunk
    waiting_subjects = set()  # ... waits: what follows waits behind a pending event
    released = set()
    postponed = events.browse()
    waited = []  # (event, waits for the first time)
    for position, event in enumerate(claimed):
        if event.subject and (event.id in blocked or event.subject in held_subjects):
            # A pending event ahead is never moot: the check (a query) is skipped then.
            if event.subject in waiting_subjects or not settle_moot_predecessors(event):
                waited.append((event, wait_for_order(event)))
                held_subjects.add(event.subject)
                waiting_subjects.add(event.subject)
                continue
            held_subjects.discard(event.subject)
        outcome = process_one(event)
        if outcome == "conflict":
            postponed = claimed[position:]
            break
        if outcome == "done":
            if event.subject:
                released.add(event.subject)
        elif event.subject:
            held_subjects.add(event.subject)
    schedule_order_checks(events.env, waited)
    released -= held_subjects | set(postponed.mapped("subject"))
    if postponed:
        delay = random.uniform(*CONFLICT_RETRY_SECONDS)
        jobs.schedule_retry(postponed, fields.Datetime.now() + timedelta(seconds=delay))
    if released:
        release_subjects(events.env, released, after_commit=True)
    events.flush_model()
    events.env["mfg.integration.traffic"]._add_outcomes(claimed.ids)
    return f"{len(claimed)} events processed"


def hold_for_maintenance(claimed):
    """The claimed events minus those of systems in a maintenance window: those stay as they
    are (no attempt, no exception) and are planned again for the window's end."""
    if not claimed:
        return claimed
    paused = maintenance_windows.paused_until(
        claimed.env, claimed.system_id.ids, fields.Datetime.now(), "inbound"
    )
    if not paused:
        return claimed
    for system_id, until in paused.items():
        jobs.schedule_retry(claimed.filtered(lambda e, s=system_id: e.system_id.id == s), until)
    return claimed.filtered(lambda e: e.system_id.id not in paused)


def blocked_by_earlier(events):
    """Ids of these events that have an earlier, still pending event of their subject
    outside this set (set-based: one query for the whole chunk)."""
    with_subject = events.filtered("subject")
    if not with_subject:
        return set()
    events.flush_model()
    events.env.cr.execute(
        f"""
        SELECT e.id
          FROM mfg_integration_event e
         WHERE e.id = ANY(%(ids)s)
           AND EXISTS (
               SELECT 1 FROM mfg_integration_event p
                WHERE p.state IN %(pending)s
                  AND NOT p.id = ANY(%(ids)s)
                  AND {P_AHEAD_OF_E})
        """,
        {"ids": list(with_subject.ids), "pending": PENDING_STATES},
    )
    return {row[0] for row in events.env.cr.fetchall()}


def settle_moot_predecessors(event):
    """Whether the events ``event`` waits behind are all failed and made moot by it (their
    contracts' moot checks say so); if so, their exceptions resolve naming ``event`` and they
    are discarded, so ``event`` may go now."""
    event.env.flush_all()
    event.env.cr.execute(
        f"""
        SELECT p.id
          FROM mfg_integration_event p
          JOIN mfg_integration_event e ON e.id = %(id)s
         WHERE p.state IN %(pending)s AND {P_AHEAD_OF_E}
        """,
        {"id": event.id, "pending": PENDING_STATES},
    )
    earlier = event.browse([row[0] for row in event.env.cr.fetchall()])
    if not earlier or any(e.state != "failed" for e in earlier):
        return False
    installed = installed_modules(event.env)
    reasons = {}
    for failed in earlier:
        check = moot_checks.get(failed.event_type, failed.contract_id.version_major, installed)
        reason = check and check(event.env, failed, event)
        if not reason:
            return False
        reasons[failed] = reason
    for failed, reason in reasons.items():
        body = event.env._(
            "Made moot by the later event %(uid)s (%(type)s): %(reason)s",
            uid=event.event_uid,
            type=event.event_type,
            reason=reason,
        )
        failed.exception_id.filtered(lambda x: x.state in ("open", "in_progress"))._close(
            "resolved", event.env._("No longer needed"), body
        )
        failed._discard(body)
    return True


def wait_for_order(event):
    """The event waits behind an earlier one of its subject; True the first time."""
    first_time = not (event.state == "waiting" and event.wait_reason == "order")
    event.write({"state": "waiting", "wait_reason": "order", "wait_until": False})
    return first_time


def schedule_order_checks(env, waited):
    """One delayed job re-checks the events that began to wait in this chunk, and those
    whose earlier event is being processed by another job right now.

    The earlier event releases its successors when it is done, but its job's transaction
    may have begun before a successor's wait was committed, and then does not see it: the
    check covers that, and is repeated while the earlier event is in flight (an event
    waiting behind an exception is released by the retry or discard instead).
    """
    if not waited:
        return
    recheck = [event.id for event, first_time in waited if first_time]
    again = [event.id for event, first_time in waited if not first_time]
    if again:
        env.cr.execute(
            f"""
            SELECT e.id
              FROM mfg_integration_event e
             WHERE e.id = ANY(%(ids)s)
               AND EXISTS (
                   SELECT 1 FROM mfg_integration_event p
                    WHERE p.state IN ('received', 'queued', 'processing')
                      AND (p.next_attempt_at IS NULL
                           OR p.next_attempt_at <= (now() AT TIME ZONE 'UTC')
                                                   + make_interval(secs => %(soon)s))
                      AND {P_AHEAD_OF_E})
            """,
            {"ids": again, "soon": ORDER_CHECK_SECONDS * 2},
        )
        recheck += [row[0] for row in env.cr.fetchall()]
    if recheck:
        jobs.schedule_retry(
            env["mfg.integration.event"].browse(recheck),
            fields.Datetime.now() + timedelta(seconds=ORDER_CHECK_SECONDS),
        )


def odoo_refusal(event, error):
    """The business error for a UserError Odoo raised while applying ``event``."""
    message = error.args[0] if error.args else str(error)
    return BusinessError(
        getattr(error, "reason_code", None) or "odoo_refused",
        _(
            "Odoo refused this %(type)s event: %(error)s",
            type=event.event_type,
            error=message,
        ),
        suggested_action=getattr(error, "suggested_action", None)
        or _("Fix what Odoo names, then retry; or discard the event if it no longer applies."),
        key_fields=getattr(error, "key_fields", None),
    )


def process_one(event):
    """Apply one event; returns done, failed, waiting, retry, dead or conflict (nothing
    recorded: the event is applied again by a new job)."""
    event.ensure_one()
    contract = event.contract_id
    try:
        handler = handler_registry.get(
            event.event_type, contract.version_major, installed_modules(event.env)
        )
    except LookupError as error:
        return fail_technical(event, str(error), final=True)
    if handler is None:
        return fail_business(
            event,
            BusinessError(
                "no_handler",
                f"Odoo has no handler for {event.event_type} {contract.version}",
                suggested_action="Install the addon that handles this contract, then retry.",
            ),
        )
    started = fields.Datetime.now()
    # Pending writes of earlier events are flushed here, outside this event's
    # savepoint: a failure there is not this event's and must not be blamed on it.
    event.env.flush_all()
    shadow = contract.shadow_mode or event.system_id.shadow_mode
    try:
        if shadow:
            result = shadow_run.run_in_shadow(event, handler)
        else:
            with event.env.cr.savepoint():
                result = handler(event.env, event)
    except BusinessError as error:
        return fail_business(event, error)
    except PrerequisiteMissing as error:
        return wait_for_prerequisite(event, error)
    except UserError as error:
        # Odoo's own business rules refused the change (a validation, a locked record, a held
        # lot): retrying blindly fails the same way, so a person decides. An addon's UserError
        # may carry its own reason_code (e.g. lot_on_hold) for grouping and fixes.
        return fail_business(event, odoo_refusal(event, error))
    except DataError as error:
        # a value the database cannot hold (a number out of range, a malformed date): a retry
        # would fail the same way, so a person decides, as for any business error
        return fail_business(
            event,
            BusinessError(
                "value_out_of_range",
                _(
                    "A value of this %(type)s event cannot be stored: %(error)s",
                    type=event.event_type,
                    error=(error.diag.message_primary or str(error)).strip(),
                ),
                suggested_action=_(
                    "Correct the value with Edit Data and Retry, or discard the event and fix "
                    "the sender."
                ),
            ),
        )
    except OperationalError as error:
        if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
            return fail_technical(
                event, f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}"
            )
        _logger.info(
            "Event %s (%s) met a concurrent job (%s): it and the rest of its chunk resume "
            "in a new job",
            event.id,
            event.event_type,
            type(error).__name__,
        )
        return "conflict"
    except Exception as error:
        _logger.warning(
            "Event %s (%s, correlation %s) failed: %s",
            event.id,
            event.event_type,
            event.correlation_id,
            error,
        )
        return fail_technical(event, f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}")
    occurred = event.occurred_at or event.received_at or started
    values = {
        "state": "done",
        "processed_at": started,
        # to the microsecond: Odoo's datetimes drop them, and sub-second latencies would read 0
        "latency_s": max(0.0, (precise_now() - occurred).total_seconds()),
        "attempts": event.attempts + 1,
        "wait_reason": False,
        "wait_until": False,
        "next_attempt_at": False,
        "error": False,
        "error_code": False,
    }
    if shadow:
        values.update(shadow=True, shadow_effects=result)
    elif isinstance(result, models.BaseModel) and len(result) == 1:
        values.update(result_model=result._name, result_res_id=result.id)
    event.write(values)
    return "done"


def fail_business(event, error):
    error_class = classify(error.reason_code, "business", explicit=error.error_class)
    if error_class in RETRYABLE_CLASSES and event.attempts + 1 < event.contract_id.max_attempts:
        # "order locked", "try again later": retried like a technical failure first
        return retry_later(event, f"{error.reason_code}: {error.message}", error.reason_code)
    exception = event.env["mfg.integration.exception"]._open_for_event(
        event,
        category="business",
        reason_code=error.reason_code,
        message=error.message,
        suggested_action=error.suggested_action,
        key_fields=error.key_fields,
        error_class=error_class,
    )
    event.write(
        {
            "state": "failed",
            "attempts": event.attempts + 1,
            "error_code": error.reason_code,
            "error": error.message,
            "exception_id": exception.id,
            "wait_reason": False,
            "next_attempt_at": False,
        }
    )
    return "failed"


def fail_technical(event, details, final=False):
    attempts = event.attempts + 1
    contract = event.contract_id
    if final or attempts >= contract.max_attempts:
        exception = event.env["mfg.integration.exception"]._open_for_event(
            event,
            category="technical",
            reason_code="retries_exhausted",
            message=_(
                "%(type)s event could not be processed after %(n)s attempts",
                type=event.event_type,
                n=attempts,
            ),
            suggested_action=_(
                "Read the technical details, fix the cause (configuration, locks, "
                "a down system), then retry."
            ),
            details=details,
        )
        event.write(
            {
                "state": "dead",
                "attempts": attempts,
                "error_code": "retries_exhausted",
                "error": details,
                "exception_id": exception.id,
            }
        )
        return "dead"
    return retry_later(event, details)


def retry_later(event, details, error_code="technical_error"):
    """Another attempt after the contract's backoff, no exception yet."""
    attempts = event.attempts + 1
    contract = event.contract_id
    delay = backoff_delay(attempts, contract.retry_base_seconds, contract.retry_max_seconds)
    eta = fields.Datetime.now() + timedelta(seconds=delay)
    event.write(
        {
            "state": "queued",
            "attempts": attempts,
            "error_code": error_code,
            "error": details,
            "next_attempt_at": eta,
        }
    )
    jobs.schedule_retry(event, eta)
    return "retry"


def wait_for_prerequisite(event, error):
    now = fields.Datetime.now()
    deadline = (
        event.wait_until
        if event.wait_reason == "prerequisite" and event.wait_until
        else (
            (event.received_at or now)
            + timedelta(minutes=event.contract_id.prerequisite_wait_minutes)
        )
    )
    if now >= deadline:
        return fail_business(
            event,
            BusinessError(
                error.reason_code or "prerequisite_missing",
                error.message,
                suggested_action=error.suggested_action
                or _(
                    "Check that the earlier message reached Odoo (or create the record it "
                    "refers to), then retry."
                ),
                key_fields=error.key_fields,
            ),
        )
    attempts = event.attempts + 1
    delay = min(60 * attempts, 300)
    eta = min(deadline, now + timedelta(seconds=delay))
    event.write(
        {
            "state": "waiting",
            "wait_reason": "prerequisite",
            "wait_until": deadline,
            "next_attempt_at": eta,
            "attempts": attempts,
            "error": error.message,
            "error_code": "prerequisite_missing",
        }
    )
    jobs.schedule_retry(event, eta)
    return "waiting"


def _waiting_in_order(subjects):
    """Domain: events of ``subjects`` that wait only for an earlier one of their subject."""
    return [
        ("subject", "in", list(subjects)),
        ("state", "=", "waiting"),
        ("wait_reason", "=", "order"),
    ]


def release_subjects(env, subjects, after_commit=False):
    """Process events that waited only because an earlier one of their subject was pending.

    With ``after_commit``, the same again once this transaction has committed, on a cursor of
    its own: a successor whose wait another job committed while this one ran is invisible
    here (this transaction's snapshot is older), and would otherwise wait for the delayed
    check (see schedule_order_checks).
    """
    waiting = env["mfg.integration.event"].search(_waiting_in_order(subjects))
    if waiting:
        jobs.enqueue_in_chunks(waiting)
    if after_commit:
        dbname, seen = env.cr.dbname, set(waiting.ids)

        def release_the_unseen():
            try:
                _enqueue_unseen(dbname, subjects, seen)
            except Exception:  # the job is committed: a failure here must not fail it
                _logger.exception("Releasing the successors of %s after commit failed", subjects)

        env.cr.postcommit.add(release_the_unseen)


def _enqueue_unseen(dbname, subjects, seen):
    """Enqueue the events of ``subjects`` still waiting in order, except ``seen`` (already
    enqueued); the delayed check would find them otherwise, only later."""
    with Registry(dbname).cursor() as cr:
        late_env = api.Environment(cr, SUPERUSER_ID, {})
        late = late_env["mfg.integration.event"].search(
            [*_waiting_in_order(subjects), ("id", "not in", list(seen))]
        )
        if late:
            jobs.enqueue_in_chunks(late)
