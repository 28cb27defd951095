"""The outbox: emitting outbound events in the business transaction, and delivering them.

``emit`` writes one row per destination system in the caller's transaction and enqueues
that system's dispatcher job in the same transaction, so nothing leaves Odoo unless the
business change commits. The dispatcher (one at a time per system) claims ready events in
subject order, delivers them through the system's adapter, and writes outcomes set-based.
"""

import json
import logging
import time
import uuid
from datetime import UTC, timedelta

from psycopg2.extras import execute_values

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..services import (
    schema_validation,
    webhook_adapter,  # noqa: F401  (registers the webhook adapter)
)
from ..services.adapters import Message
from ..services.adapters import registry as adapter_registry
from ..services.delivery_policy import Breaker, breaker_after_round, breaker_gate, retry_delay
from ..services.envelope import canonical_json, dataschema_uri, payload_hash
from ..services.errors import BusinessError
from ..services.outbound_delivery import deliver_in_order
from .mfg_integration_event import PENDING_STATES

_logger = logging.getLogger(__name__)

DISPATCH_CHANNEL = "root.mfg_integration"
# Events one dispatch round claims, and how long it starts new deliveries: a round's
# transaction (and its row locks) stays short, well under the workers' time limit.
ROUND_LIMIT = 1000
ROUND_SECONDS = 40
# A dispatcher that finds another one running for its system looks again this much later.
LOCKED_RETRY_SECONDS = 2
# pg advisory lock namespace of the per-system dispatcher (first key of the pair)
DISPATCH_LOCK_NAMESPACE = 7301
SEQUENCE_WIDTH = 12
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


class MfgIntegrationEvent(models.Model):
    _inherit = "mfg.integration.event"

    def init(self):
        super().init()
        # the dispatcher's claim: ready events of one system, by subject
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_event_outbox
                ON mfg_integration_event (system_id, subject, occurred_at, sequence, id)
             WHERE direction = 'outbound' AND state IN %s
            """,
            [PENDING_STATES],
        )

    # -- emit (business code's one call) ----------------------------------------------------

    @api.private
    @api.model
    def emit(
        self,
        contract_code,
        data,
        subject=None,
        correlation_id=None,
        causation_id=None,
        systems=None,
        version=None,
    ):
        """Write an outbound event of ``contract_code`` in the current transaction.

        ``data`` is validated against the active outbound contract version (``version``,
        or the newest) before anything is written: invalid data raises a ValidationError
        naming the field. One event row per destination system (``systems``: records, ids
        or codes; default: active systems with a delivery adapter whose allowed contracts
        include this one), each delivered only once the transaction commits. Returns the
        event rows (empty when no system receives this contract).
        """
        return self._emit_many(
            contract_code,
            [
                {
                    "data": data,
                    "subject": subject,
                    "correlation_id": correlation_id,
                    "causation_id": causation_id,
                }
            ],
            systems=systems,
            version=version,
        )

    @api.model
    def api_emit(self, contract_code, events, systems=None, version=None):
        """``emit`` for integration managers over RPC (tests, a replayed interface):
        ``events`` is a list of dicts with data, subject, correlation_id, causation_id.
        Returns the CloudEvents ids written."""
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise AccessError(_("Only an Integration Manager can emit outbound events."))
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise UserError(_("events must be a list of objects with at least 'data'."))
        return self.sudo()._emit_many(contract_code, events, systems, version).mapped("event_uid")

    @api.model
    def _emit_many(self, contract_code, items, systems=None, version=None):
        """Set-based ``emit``: a constant number of queries for any number of events."""
        contract = self.env["mfg.integration.contract"]._outbound_version(contract_code, version)
        validator = contract._validator()
        prepared = []
        for index, item in enumerate(items):
            data = item.get("data")
            errors = schema_validation.validation_errors(validator, data)
            if errors:
                pointer, sentence = errors[0]
                where = f" (event {index + 1} of {len(items)})" if len(items) > 1 else ""
                raise ValidationError(
                    _(
                        "Outbound %(contract)s data is invalid at %(pointer)s%(where)s: "
                        "%(error)s",
                        contract=contract.display_name,
                        pointer=pointer,
                        where=where,
                        error=sentence,
                    )
                )
            try:
                data_json = canonical_json(data)
            except (TypeError, ValueError) as error:
                raise ValidationError(
                    _(
                        "Outbound %(code)s data is not JSON: %(error)s",
                        code=contract.code,
                        error=error,
                    )
                ) from None
            prepared.append((item, data_json))
        destinations = self._outbound_destinations(contract, systems)
        if not destinations or not prepared:
            _logger.debug("No system receives %s: nothing emitted", contract.code)
            return self.browse()

        pairs = [(system.id, item.get("subject") or "") for system in destinations
                 for item, _data in prepared]  # fmt: skip
        sequences = self._take_sequences(pairs)
        # after the sequences: their row locks order concurrent emitters, and so do times
        now = fields.Datetime.now()
        source = self._outbound_source()
        self.env.cr.execute(
            "SELECT nextval('mfg_integration_event_id_seq') FROM generate_series(1, %s)",
            [len(pairs)],
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        uid = self.env.uid
        rows = []
        position = 0
        event_uids = [str(uuid.uuid4()) for _item in prepared]
        for system in destinations:
            for (item, data_json), event_uid in zip(prepared, event_uids, strict=True):
                subject = item.get("subject") or None
                envelope = {"id": event_uid, "source": source, "data": item.get("data")}
                rows.append(
                    (
                        ids[position],
                        uid, now, uid, now,
                        "outbound",
                        system.id,
                        contract.id,
                        contract.code,
                        contract.version,
                        event_uid,
                        source,
                        subject,
                        str(sequences[position]).zfill(SEQUENCE_WIDTH),
                        item.get("correlation_id") or event_uid,
                        item.get("causation_id") or None,
                        now,
                        now,
                        data_json,
                        payload_hash(envelope, data_json),
                        "queued",
                    )
                )  # fmt: skip
                position += 1
        execute_values(
            self.env.cr._obj,
            """
            INSERT INTO mfg_integration_event (
                id, create_uid, create_date, write_uid, write_date, direction, system_id,
                contract_id, event_type, contract_version, event_uid, source, subject,
                sequence, correlation_id, causation_id, occurred_at, received_at, payload,
                payload_hash, state, attempts)
            VALUES %s
            """,
            rows,
            template="(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s,0)",
            page_size=1000,
        )
        self._schedule_dispatch(destinations.ids)
        return self.browse(ids)

    @api.model
    def _outbound_destinations(self, contract, systems):
        System = self.env["mfg.integration.system"].sudo()
        if systems is None:
            return System.search(
                [
                    ("outbound_adapter", "!=", False),
                    ("allowed_contract_ids.code", "=", contract.code),
                ]
            )
        if isinstance(systems, models.BaseModel):
            found = System.browse(systems.ids)
        else:
            values = [systems] if isinstance(systems, int | str) else list(systems)
            codes = [value for value in values if isinstance(value, str)]
            found = System.browse([value for value in values if isinstance(value, int)])
            if codes:
                by_code = System.search([("code", "in", codes)])
                missing = set(codes) - set(by_code.mapped("code"))
                if missing:
                    raise UserError(
                        _("Unknown systems: %(codes)s", codes=", ".join(sorted(missing)))
                    )
                found |= by_code
        refused = found.filtered(
            lambda s: not s.active or not s.outbound_adapter or not s._allows(contract)
        )
        if refused:
            raise UserError(
                _(
                    "%(systems)s cannot receive %(contract)s: a system needs to be active, "
                    "have a delivery adapter and allow the contract.",
                    systems=", ".join(refused.mapped("name")),
                    contract=contract.code,
                )
            )
        return found

    @api.model
    def _outbound_source(self):
        """The CloudEvents ``source`` of this Odoo database's events."""
        parameters = self.env["ir.config_parameter"].sudo()
        configured = parameters.get_param("mfg_integration.outbound_source")
        return configured or f"odoo/{self.env.cr.dbname}"

    @api.model
    def _take_sequences(self, pairs):
        """The next sequence number of each (system_id, subject) in ``pairs`` (repeats
        get consecutive numbers), in one statement."""
        counts = {}
        for pair in pairs:
            counts[pair] = counts.get(pair, 0) + 1
        # one lock order for every transaction: no deadlock between concurrent emitters
        keys = sorted(counts)
        self.env["mfg.integration.outbound.sequence"].flush_model()
        self.env.cr.execute(
            """
            INSERT INTO mfg_integration_outbound_sequence AS s (system_id, subject, last_value)
            SELECT * FROM unnest(%s::int[], %s::varchar[], %s::int[])
            ON CONFLICT (system_id, subject)
            DO UPDATE SET last_value = s.last_value + EXCLUDED.last_value
            RETURNING system_id, subject, last_value
            """,
            [
                [key[0] for key in keys],
                [key[1] for key in keys],
                [counts[key] for key in keys],
            ],
        )
        next_value = {
            (system_id, subject): last - counts[(system_id, subject)] + 1
            for system_id, subject, last in self.env.cr.fetchall()
        }
        result = []
        for pair in pairs:
            result.append(next_value[pair])
            next_value[pair] += 1
        return result

    # -- dispatch jobs ----------------------------------------------------------------------

    @api.model
    def _schedule_dispatch(self, system_ids, eta=None):
        """Make sure a dispatcher job for each system runs at ``eta`` (naive UTC) or
        sooner; one that is already planned early enough is reused."""
        system_ids = sorted(set(system_ids))
        if not system_ids:
            return
        keys = {dispatch_identity(system_id): system_id for system_id in system_ids}
        self.env["queue.job"].flush_model()
        self.env.cr.execute(
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
            for key, planned_eta in self.env.cr.fetchall()
            if planned_eta is None or planned_eta <= target + slack
        }
        systems = self.env["mfg.integration.system"].sudo().browse(system_ids)
        names = {system.id: system.code for system in systems}
        for system_id in system_ids:
            if system_id in planned:
                continue
            Job(
                self.with_user(SUPERUSER_ID).sudo().browse()._dispatch_system,
                args=(system_id,),
                eta=eta,
                channel=DISPATCH_CHANNEL,
                description=f"Deliver outbound events to {names.get(system_id, system_id)}",
                identity_key=dispatch_identity(system_id),
            ).store()

    def _enqueue_in_chunks(self):
        """Outbound events go to their system's dispatcher; inbound ones to processing."""
        outbound = self.filtered(lambda event: event.direction == "outbound")
        if outbound:
            self._schedule_dispatch(outbound.system_id.ids)
        return super(MfgIntegrationEvent, self - outbound)._enqueue_in_chunks()

    def _discard(self, reason):
        systems = self.filtered(lambda event: event.direction == "outbound").system_id
        result = super()._discard(reason)
        if systems:
            # later events of the discarded ones' subjects may go now
            self._schedule_dispatch(systems.ids)
        return result

    @api.model
    def _cron_resume_stalled(self):
        """Also the outbox's safety net: a dispatcher for every system with due outbound
        events (after a crash killed a round and the job that would have followed it)."""
        resumed = super()._cron_resume_stalled()
        self.flush_model()
        now = fields.Datetime.now()
        self.env.cr.execute(
            f"""
            SELECT DISTINCT system_id FROM ({OUTBOX_HEADS.format(system_filter="")}) AS heads
             WHERE state = 'queued' AND (subject IS NULL OR position = 1)
               AND COALESCE(next_attempt_at, %(now)s) <= %(now)s
            """,
            {"now": now, "pending": PENDING_STATES},
        )
        self._schedule_dispatch([row[0] for row in self.env.cr.fetchall()])
        return resumed

    # -- the dispatcher ---------------------------------------------------------------------

    @api.model
    def _dispatch_system(self, system_id):
        """Job: one delivery round for one system (only one runs at a time per system)."""
        system = self.env["mfg.integration.system"].sudo().browse(system_id).exists()
        if not system or not system.active or not system.outbound_adapter:
            return "The system is gone, archived or has no delivery adapter: nothing sent."
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", [DISPATCH_LOCK_NAMESPACE, system.id]
        )
        if not self.env.cr.fetchone()[0]:
            raise RetryableJobError(
                "Another dispatcher is delivering to this system",
                seconds=LOCKED_RETRY_SECONDS,
                ignore_retry=True,
            )
        now = fields.Datetime.now()
        if system.outbound_resume_at and system.outbound_resume_at > now:
            self._schedule_dispatch([system.id], eta=system.outbound_resume_at)
            return f"Paused until {system.outbound_resume_at} (Retry-After)"
        breaker = Breaker(
            system.circuit_state, _aware(system.circuit_opened_at), system.consecutive_failures
        )
        gate, until = breaker_gate(breaker, system.circuit_cooldown_seconds, _aware(now))
        if gate == "wait":
            self._schedule_dispatch([system.id], eta=until.astimezone(UTC).replace(tzinfo=None))
            return f"Circuit open until {until}"
        probing = gate == "probe"
        if probing and system.circuit_state != "half_open":
            system.circuit_state = "half_open"
        messages = self._claim_outbound(system, now, 1 if probing else ROUND_LIMIT)
        outcomes = {}
        if messages:
            settings = system._delivery_settings()
            adapter = adapter_registry.instance(system.outbound_adapter, settings)
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
        self._record_outcomes(outcomes)
        self._update_breaker(system, breaker, outcomes, probing)
        self._plan_next_round(system, claimed=len(messages))
        delivered = sum(1 for outcome in outcomes.values() if outcome.status == "delivered")
        return f"{delivered} of {len(messages)} claimed events delivered"

    @api.model
    def _claim_outbound(self, system, now, limit):
        """Lock this round's events: queued and due, and not held by an earlier event of
        their subject (failed, dead, or queued but not due yet); in subject order.

        One pass over the system's pending events in the outbox index's order, with a
        window per subject, instead of a lookup of earlier events per candidate.
        """
        self.flush_model()
        self.env.cr.execute(
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
        candidates = self.env.cr.fetchall()
        if not candidates:
            return []
        self.env.cr.execute(
            """
            SELECT id FROM mfg_integration_event
             WHERE id = ANY(%s) AND state = 'queued'
               FOR UPDATE SKIP LOCKED
            """,
            [[event_id for event_id, _subject in candidates]],
        )
        locked = {row[0] for row in self.env.cr.fetchall()}
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
        self.env.cr.execute(
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
        by_id = {row[0]: row for row in self.env.cr.fetchall()}
        return [_message(by_id[event_id]) for event_id in ids]

    @api.model
    def _record_outcomes(self, outcomes):
        """Write a round's outcomes: done set-based; retries set-based; business refusals
        and dead events (rare) each with their exception."""
        if not outcomes:
            return
        now = fields.Datetime.now()
        delivered = [event_id for event_id, o in outcomes.items() if o.status == "delivered"]
        if delivered:
            self.env.cr.execute(
                """
                UPDATE mfg_integration_event
                   SET state = 'done', attempts = attempts + 1, processed_at = %(now)s,
                       latency_s = GREATEST(0, EXTRACT(EPOCH FROM %(now)s - occurred_at)),
                       next_attempt_at = NULL, error = NULL, error_code = NULL,
                       write_date = %(now)s, write_uid = %(uid)s
                 WHERE id = ANY(%(ids)s)
                """,
                {"now": now, "uid": self.env.uid, "ids": delivered},
            )
        failed = self.browse([event_id for event_id, o in outcomes.items()
                              if o.status in ("business", "technical")])  # fmt: skip
        retries = []
        for event in failed:
            outcome = outcomes[event.id]
            if outcome.status == "business":
                event._fail_delivery_business(outcome)
                continue
            contract = event.contract_id
            attempts = event.attempts + 1
            if attempts >= contract.max_attempts:
                event._fail_technical(outcome.summary, final=True)
                continue
            delay = retry_delay(
                attempts, contract.retry_base_seconds, contract.retry_max_seconds,
                outcome.retry_after,
            )  # fmt: skip
            retries.append((event.id, attempts, now + timedelta(seconds=delay), outcome.summary))
        if retries:
            self.flush_model()
            execute_values(
                self.env.cr._obj,
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
        self.invalidate_model()

    def _fail_delivery_business(self, outcome):
        self.ensure_one()
        return self._fail_business(
            BusinessError(
                "delivery_refused",
                _(
                    "%(system)s refused %(type)s for %(subject)s: %(answer)s",
                    system=self.system_id.name,
                    type=self.event_type,
                    subject=self.subject or self.event_uid,
                    answer=outcome.summary,
                ),
                suggested_action=_(
                    "Read the receiver's answer, fix the data or the receiver's configuration, "
                    "then replay the event (or discard it with a reason). Later events of this "
                    "subject wait for it."
                ),
                key_fields={"http_status": outcome.http_status},
            )
        )

    @api.model
    def _update_breaker(self, system, breaker, outcomes, probing):
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

    @api.model
    def _plan_next_round(self, system, claimed):
        """Schedule the next round: now if due events are left, else when the earliest
        retry is due; none when every remaining event waits for a person.

        Only the first pending event of each subject can be due before the others, so
        the earliest due time among those is when the next round has work.
        """
        self.flush_model()
        self.env.cr.execute(
            f"""
            SELECT min(COALESCE(next_attempt_at, %(now)s))
              FROM ({OUTBOX_HEADS.format(system_filter="AND e.system_id = %(system)s")}) AS heads
             WHERE state = 'queued' AND (subject IS NULL OR position = 1)
            """,
            {"now": fields.Datetime.now(), "system": system.id, "pending": PENDING_STATES},
        )
        due = self.env.cr.fetchone()[0]
        if due is None:
            return
        now = fields.Datetime.now()
        if not claimed and due <= now:
            # due events another transaction holds: look again shortly, do not spin
            due = now + timedelta(seconds=LOCKED_RETRY_SECONDS)
        self._schedule_dispatch([system.id], eta=due if due > now else None)

    # -- replay -----------------------------------------------------------------------------

    def _replay(self, reason):
        """Deliver these outbound events again, under their own ids (receivers dedup on
        webhook-id), with ``reason`` in each event's and each system's history."""
        reason = (reason or "").strip()
        if not reason:
            raise UserError(_("Say why these events are sent again: the reason is kept for audit."))
        inbound = self.filtered(lambda event: event.direction != "outbound")
        if inbound:
            raise UserError(_("Only outbound events can be replayed; retry inbound events."))
        replayable = self.filtered(lambda e: e.state in ("done", "failed", "dead", "discarded"))
        if not replayable:
            raise UserError(_("None of these events can be replayed: they are on their way."))
        user_name = self.env.user.name
        open_exceptions = replayable.exception_id.filtered(
            lambda x: x.state in ("open", "in_progress")
        )
        events = replayable.sudo()
        events.write(
            {
                "state": "queued",
                "attempts": 0,
                "next_attempt_at": False,
                "error": False,
                "error_code": False,
            }
        )
        note = _("Replayed by %(user)s: %(reason)s", user=user_name, reason=reason)
        events._message_log_batch(bodies={event.id: note for event in events})
        if open_exceptions:
            open_exceptions.sudo().write(
                {
                    "state": "resolved",
                    "resolution": note,
                    "resolved_by_id": self.env.uid,
                    "resolved_on": fields.Datetime.now(),
                }
            )
        for system in events.system_id:
            mine = events.filtered(lambda e, s=system: e.system_id == s)
            contracts = ", ".join(sorted(set(mine.mapped("event_type"))))
            system.message_post(
                body=_(
                    "%(n)s outbound events (%(contracts)s) replayed by %(user)s: %(reason)s",
                    n=len(mine),
                    contracts=contracts,
                    user=user_name,
                    reason=reason,
                )
            )
        self._schedule_dispatch(events.system_id.ids)
        return len(events)


def _message(row):
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
