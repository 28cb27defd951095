import json
import logging
import traceback
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

from markupsafe import Markup
from psycopg2.extensions import AsIs
from psycopg2.extras import execute_values

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_datetime

from odoo.addons.queue_job.job import Job

from ..services import schema_validation
from ..services import shadow as shadow_service
from ..services.backoff import backoff_delay
from ..services.envelope import (
    EnvelopeError,
    canonical_json,
    check_envelope,
    parse_time,
    parse_version,
    payload_hash,
)
from ..services.errors import BusinessError, PrerequisiteMissing
from ..services.handlers import registry as handler_registry
from ..services.humanize import duration

_logger = logging.getLogger(__name__)

# Events of one job: enough to amortise the job's own cost, small enough that a
# technical failure of the job (not of one event) retries little work.
CHUNK_SIZE = 250
# Envelope attributes kept in their own columns; anything else lands in envelope_extra.
COLUMN_ATTRIBUTES = {
    "specversion",
    "id",
    "source",
    "type",
    "dataschema",
    "time",
    "subject",
    "sequence",
    "correlationid",
    "causationid",
    "data",
}
# States in which an event still has to be applied: a later event of the same subject
# must not overtake it. failed and dead count too: a person decides first.
PENDING_STATES = ("received", "queued", "processing", "waiting", "failed", "dead")
# The order events are applied in: by subject, then time, sequence and id. A missing
# sequence sorts first, as in _blocked_by_earlier and _plan_chunks' sort key.
SUBJECT_ORDER = "subject NULLS LAST, occurred_at, COALESCE(sequence, ''), id"
RAW_BODY_LIMIT = 65536
# Where an accepted event starts, by its contract's processing mode. Record-only events
# (telemetry kept for analytics and reconciliation) are done once stored.
INITIAL_STATE = {"realtime": "queued", "batch": "received", "record": "done"}


class MfgIntegrationEvent(models.Model):
    _name = "mfg.integration.event"
    _description = "Integration Event"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "event_uid"

    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")],
        required=True,
        default="inbound",
        readonly=True,
    )
    system_id = fields.Many2one(
        "mfg.integration.system", required=True, index=True, readonly=True, ondelete="restrict"
    )
    contract_id = fields.Many2one(
        "mfg.integration.contract", index=True, readonly=True, ondelete="restrict"
    )
    event_type = fields.Char(string="Type", readonly=True)
    contract_version = fields.Char(readonly=True)
    # searched through the idempotency key index (system_id, source, event_uid)
    event_uid = fields.Char(string="Event ID", readonly=True)
    source = fields.Char(readonly=True)
    subject = fields.Char(index=True, readonly=True, help="The business object; the ordering key.")
    sequence = fields.Char(readonly=True)
    correlation_id = fields.Char(index=True, readonly=True)
    causation_id = fields.Char(readonly=True)
    clock_quality = fields.Char(readonly=True)
    occurred_at = fields.Datetime(readonly=True, help="When it happened, per the source.")
    # BRIN index (see init): rows arrive in time order, so a block-range index serves
    # time-range queries at almost no cost per insert
    received_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    latency_s = fields.Float(
        string="Latency (s)",
        readonly=True,
        digits=(16, 3),
        help="From occurrence at the source to processing in Odoo.",
    )
    payload = fields.Json(readonly=True)
    envelope_extra = fields.Json(readonly=True, string="Other Attributes")
    payload_hash = fields.Char(readonly=True)
    payload_purged = fields.Boolean(readonly=True)
    raw_body = fields.Text(readonly=True, help="What was sent, for events refused by the API.")
    state = fields.Selection(
        [
            ("received", "Received"),
            ("queued", "Queued"),
            ("processing", "Processing"),
            ("waiting", "Waiting"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("dead", "Dead"),
            ("discarded", "Discarded"),
            ("rejected", "Rejected by API"),
        ],
        default="received",
        required=True,
        index=True,
        readonly=True,
    )
    wait_reason = fields.Selection(
        [("order", "Earlier event of the same subject"), ("prerequisite", "Prerequisite missing")],
        readonly=True,
    )
    wait_until = fields.Datetime(readonly=True, help="When waiting turns into an exception.")
    next_attempt_at = fields.Datetime(readonly=True)
    attempts = fields.Integer(readonly=True)
    job_uuid = fields.Char(readonly=True, index="btree_not_null", copy=False)
    result_model = fields.Char(readonly=True)
    result_res_id = fields.Many2oneReference(model_field="result_model", readonly=True)
    error_code = fields.Char(readonly=True)
    error_pointer = fields.Char(readonly=True)
    error = fields.Text(readonly=True)
    exception_id = fields.Many2one(
        "mfg.integration.exception", readonly=True, index="btree_not_null"
    )
    payload_pretty = fields.Text(compute="_compute_payload_pretty", string="Data")

    def init(self):
        # The idempotency key. Partial: refused events are logged but hold no key, so a
        # corrected resend under the same id is accepted.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS mfg_integration_event_idempotency_key
                ON mfg_integration_event (system_id, source, event_uid)
             WHERE direction = 'inbound' AND state <> 'rejected'
            """
        )
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_event_received_at_brin
                ON mfg_integration_event USING brin (received_at)
            """
        )
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_event_pending_subject
                ON mfg_integration_event (subject, occurred_at, sequence, id)
             WHERE state IN ('received', 'queued', 'processing', 'waiting', 'failed', 'dead')
            """
        )

    @api.depends("event_type", "subject", "event_uid")
    def _compute_display_name(self):
        for event in self:
            event.display_name = (
                f"{event.event_type or _('Unknown')} {event.subject or event.event_uid or ''}"
            )

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for event in self:
            event.payload_pretty = _pretty_json(event.payload)

    # -- helpers for handlers --------------------------------------------------------------

    @api.model
    def _handler_registry(self):
        return handler_registry

    @api.model
    def _installed_modules(self):
        return self.env.registry._init_modules

    def _map(self, kind, external_code):
        """The Odoo record mapped to an external code of this event's system."""
        self.ensure_one()
        return self.env["mfg.integration.mapping"]._resolve(self.system_id, kind, external_code)

    # -- ingest (the API's hot path) ------------------------------------------------------

    @api.model
    def _contract_table(self):
        """{code: {version: contract}} of inbound contracts the API accepts today."""
        contracts = (
            self.env["mfg.integration.contract"]
            .sudo()
            .search([("direction", "=", "inbound"), ("state", "in", ("active", "deprecated"))])
        )
        table = {}
        for contract in contracts:
            if contract._accepts_events():
                table.setdefault(contract.code, {})[contract.version] = contract
        return table

    @api.model
    def _ingest(self, system, envelopes):
        """Validate, persist and enqueue a batch of envelopes posted by ``system``.

        Returns one result dict per envelope, in order: ``status`` is accepted,
        duplicate or rejected (with ``error``: code, pointer, message, and
        ``forbidden`` when the contract is not allowed for the system). A duplicate
        carries the ``sequence`` of the copy Odoo holds (None if it came without one):
        a sender tells its own earlier attempt (same sequence) from a source's replay.
        Set-based: one INSERT for the accepted rows, one for the refused ones.
        """
        now = fields.Datetime.now()
        table = self._contract_table()
        allowed_codes = set(system.allowed_contract_ids.mapped("code"))
        results = [None] * len(envelopes)
        candidates = []  # (index, row) to insert
        batch_keys = {}  # idempotency key -> (index, hash) inside this batch
        refused = []  # (index, envelope, error dict)
        duplicate_rows = []  # rows of resends, counted for the overview and metrics

        for index, envelope in enumerate(envelopes):
            try:
                row = self._prepare_row(system, envelope, table, allowed_codes, now)
            except EnvelopeError as error:
                problem = {"code": error.code, "pointer": error.pointer, "message": error.message}
                if error.code == "contract_not_allowed":
                    problem["forbidden"] = True
                refused.append((index, envelope, problem))
                continue
            key = (row["source"], row["event_uid"])
            if key in batch_keys:
                first_index, first_hash, first_sequence = batch_keys[key]
                if first_hash == row["payload_hash"]:
                    results[index] = _duplicate(row, first_sequence)
                    duplicate_rows.append(row)
                else:
                    refused.append((index, envelope, _key_reused_error(first_index)))
                continue
            batch_keys[key] = (index, row["payload_hash"], row["sequence"])
            candidates.append((index, row))

        chunks = self._plan_chunks([row for _index, row in candidates]) if candidates else []
        inserted = self._insert_rows([row for _index, row in candidates]) if candidates else {}
        conflicts = [
            (index, row)
            for index, row in candidates
            if (row["source"], row["event_uid"]) not in inserted
        ]
        existing = (
            self._existing_keys(system, [row for _index, row in conflicts]) if conflicts else {}
        )
        for index, row in candidates:
            key = (row["source"], row["event_uid"])
            if key in inserted:
                results[index] = {"status": "accepted", "id": row["event_uid"]}
                continue
            known_hash, known_sequence = existing.get(key, (None, None))
            if known_hash == row["payload_hash"]:
                results[index] = _duplicate(row, known_sequence)
                duplicate_rows.append(row)
            else:
                refused.append((index, envelopes[index], _key_reused_error(None)))
        for index, envelope, problem in refused:
            results[index] = {
                "status": "rejected",
                "id": envelope.get("id") if isinstance(envelope, dict) else None,
                "error": problem,
            }
        if refused:
            self._log_refused(
                system, [(envelope, problem) for _i, envelope, problem in refused], now
            )

        self._store_chunk_jobs(chunks, inserted)
        self._count_traffic(system, candidates, inserted, duplicate_rows, len(refused))
        return results

    @api.model
    def _plan_chunks(self, rows):
        """Give realtime rows their id and their job's uuid before they are inserted.

        Rows are ordered by subject and time, so a subject's events stay together and in
        order, and cut into chunks of one job each. Knowing ids and job uuids up front, each
        row is written once: no second UPDATE of a freshly inserted row to link its job.
        """
        realtime = [row for row in rows if row["mode"] == "realtime"]
        if not realtime:
            return []
        self.env.cr.execute(
            "SELECT nextval('mfg_integration_event_id_seq') FROM generate_series(1, %s)",
            [len(realtime)],
        )
        for row, (new_id,) in zip(realtime, self.env.cr.fetchall(), strict=True):
            row["id"] = new_id
        realtime.sort(
            key=lambda r: (r["subject"] is None, r["subject"] or "", r["occurred_at"],
                           r["sequence"] or "", r["id"])
        )  # fmt: skip
        chunks = []
        for start in range(0, len(realtime), CHUNK_SIZE):
            job_uuid = str(uuid.uuid4())
            chunk = realtime[start : start + CHUNK_SIZE]
            for row in chunk:
                row["job_uuid"] = job_uuid
            chunks.append((job_uuid, chunk))
        return chunks

    @api.model
    def _store_chunk_jobs(self, chunks, inserted):
        """One queue_job per chunk, for the rows that were really inserted (not duplicates)."""
        for job_uuid, chunk in chunks:
            ids = [row["id"] for row in chunk if (row["source"], row["event_uid"]) in inserted]
            if ids:
                self._new_job(ids, f"Process {len(ids)} integration events", job_uuid=job_uuid)

    @api.model
    def _new_job(self, ids, description, eta=None, job_uuid=None):
        """The queue_job that processes events ``ids``: as the superuser, on the integration
        channel, at ``eta`` (UTC) or as soon as possible, under ``job_uuid`` if given."""
        job = Job(
            self.with_user(SUPERUSER_ID).sudo().browse(ids)._process_chunk,
            job_uuid=job_uuid,
            eta=eta,
            channel="root.mfg_integration",
            description=description,
        )
        job.store()
        return job

    @api.model
    def _prepare_row(self, system, envelope, table, allowed_codes, now):
        code, version = check_envelope(envelope)
        versions = table.get(code)
        if not versions:
            raise EnvelopeError(
                "unknown_contract",
                "/type",
                f"No active contract '{code}' exists in Odoo; ask the integration admin "
                "to activate it.",
            )
        if version is None:
            version = max(versions, key=parse_version)
        contract = versions.get(version)
        if contract is None:
            active = ", ".join(sorted(versions, key=parse_version))
            raise EnvelopeError(
                "unknown_contract_version",
                "/dataschema",
                f"Version {version} of '{code}' is not accepted; active versions: {active}.",
            )
        if code not in allowed_codes:
            raise EnvelopeError(
                "contract_not_allowed",
                "/type",
                f"System '{system.code}' is not allowed to send '{code}'.",
            )
        errors = schema_validation.validation_errors(contract._validator(), envelope["data"])
        if errors:
            pointer, sentence = errors[0]
            raise EnvelopeError("schema_invalid", pointer, sentence)
        occurred = parse_time(envelope["time"]) if "time" in envelope else now
        extra = {key: value for key, value in envelope.items() if key not in COLUMN_ATTRIBUTES}
        # one serialisation serves both the stored payload and its hash
        data_json = canonical_json(envelope["data"])
        return {
            "system_id": system.id,
            "contract_id": contract.id,
            "event_type": code,
            "contract_version": version,
            "event_uid": envelope["id"],
            "source": envelope["source"],
            "subject": envelope.get("subject") or None,
            "sequence": envelope.get("sequence") or None,
            "correlation_id": envelope.get("correlationid") or None,
            "causation_id": envelope.get("causationid") or None,
            "clock_quality": extra.get("clockquality") or None,
            "occurred_at": occurred,
            "received_at": now,
            "payload": data_json,
            "envelope_extra": json.dumps(extra, ensure_ascii=False) if extra else None,
            "payload_hash": payload_hash(envelope, data_json),
            "mode": contract.processing_mode,
            # record-only events are done once stored: their latency is the arrival's
            "latency_s": max(0.0, (now - occurred).total_seconds())
            if contract.processing_mode == "record"
            else None,
        }

    @api.model
    def _insert_rows(self, rows):
        """INSERT … ON CONFLICT DO NOTHING; returns {(source, event_uid): id} of new rows."""
        # create_uid/write_uid stay empty on API-ingested rows: the sender is system_id, and
        # each non-null user id would cost a foreign-key check per row on the hot path.
        uid = None
        values = [
            (
                row.get("id") or AsIs("nextval('mfg_integration_event_id_seq')"),
                row.get("job_uuid"),
                uid,
                row["received_at"],
                uid,
                row["received_at"],
                "inbound",
                row["system_id"],
                row["contract_id"],
                row["event_type"],
                row["contract_version"],
                row["event_uid"],
                row["source"],
                row["subject"],
                row["sequence"],
                row["correlation_id"],
                row["causation_id"],
                row["clock_quality"],
                row["occurred_at"],
                row["received_at"],
                row["payload"],
                row["envelope_extra"],
                row["payload_hash"],
                INITIAL_STATE[row["mode"]],
                row["received_at"] if row["mode"] == "record" else None,
                row["latency_s"],
            )
            for row in rows
        ]
        returned = execute_values(
            self.env.cr._obj,
            """
            INSERT INTO mfg_integration_event (
                id, job_uuid, create_uid, create_date, write_uid, write_date, direction, system_id,
                contract_id, event_type, contract_version, event_uid, source, subject,
                sequence, correlation_id, causation_id, clock_quality, occurred_at,
                received_at, payload, envelope_extra, payload_hash, state, processed_at, latency_s,
                attempts)
            VALUES %s
            ON CONFLICT (system_id, source, event_uid)
               WHERE direction = 'inbound' AND state <> 'rejected'
            DO NOTHING
            RETURNING source, event_uid, id
            """,
            values,
            template=(
                "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                "%s::jsonb,%s::jsonb,%s,%s,%s,%s,0)"
            ),
            page_size=len(values),
            fetch=True,
        )
        self.invalidate_model()
        return {(source, uid_): id_ for source, uid_, id_ in returned}

    @api.model
    def _existing_keys(self, system, rows):
        """{(source, event_uid): (payload_hash, sequence)} of already stored events among
        ``rows``."""
        keys = [(row["source"], row["event_uid"]) for row in rows]
        found = execute_values(
            self.env.cr._obj,
            """
            SELECT e.source, e.event_uid, e.payload_hash, e.sequence
              FROM mfg_integration_event e
              JOIN (VALUES %s) AS k(source, event_uid)
                ON e.source = k.source AND e.event_uid = k.event_uid
             WHERE e.system_id = """
            + str(int(system.id))
            + """ AND e.direction = 'inbound' AND e.state <> 'rejected'
            """,
            keys,
            page_size=len(keys),
            fetch=True,
        )
        return {(source, uid_): (digest, sequence) for source, uid_, digest, sequence in found}

    @api.model
    def _log_refused(self, system, refused, now):
        """Keep what was sent, and why it was refused, so a person can see it."""
        uid = self.env.uid
        values = []
        for envelope, problem in refused:
            envelope_ok = isinstance(envelope, dict)
            raw = (
                envelope
                if not envelope_ok
                else json.dumps(envelope, ensure_ascii=False, default=str)
            )
            if not isinstance(raw, str):
                raw = json.dumps(raw, ensure_ascii=False, default=str)
            values.append(
                (
                    uid,
                    now,
                    uid,
                    now,
                    "inbound",
                    system.id,
                    _text(envelope.get("type"), 128) if envelope_ok else None,
                    _text(envelope.get("id"), 128) if envelope_ok else None,
                    _text(envelope.get("source"), 256) if envelope_ok else None,
                    _text(envelope.get("subject"), 256) if envelope_ok else None,
                    now,
                    _text(raw, RAW_BODY_LIMIT),
                    "rejected",
                    problem["code"],
                    _text(problem.get("pointer"), 256),
                    _text(problem["message"], 2000),
                )
            )
        execute_values(
            self.env.cr._obj,
            """
            INSERT INTO mfg_integration_event (
                create_uid, create_date, write_uid, write_date, direction, system_id,
                event_type, event_uid, source, subject, received_at, raw_body, state,
                error_code, error_pointer, error)
            VALUES %s
            """,
            values,
            page_size=500,
        )
        _logger.info("%s events from system %s refused", len(values), system.code)

    @api.model
    def _log_refused_request(self, system, raw_body, code, message):
        """A whole request refused (malformed, too large): keep its first bytes."""
        now = fields.Datetime.now()
        self._log_refused(system, [(raw_body, {"code": code, "message": message})], now)
        self.env["mfg.integration.traffic"]._add({(system.id, None): {"rejected": 1}})

    def _enqueue_in_chunks(self):
        """One job per chunk of events; a subject's events stay together and in order."""
        if not self:
            return
        self.flush_model()
        self.env.cr.execute(
            f"SELECT id FROM mfg_integration_event WHERE id = ANY(%s) ORDER BY {SUBJECT_ORDER}",
            [list(self.ids)],
        )
        ordered = [row[0] for row in self.env.cr.fetchall()]
        for start in range(0, len(ordered), CHUNK_SIZE):
            chunk = ordered[start : start + CHUNK_SIZE]
            job = self._new_job(chunk, f"Process {len(chunk)} integration events")
            self.env.cr.execute(
                """
                UPDATE mfg_integration_event
                   SET job_uuid = %s,
                       state = CASE WHEN state = 'received' THEN 'queued' ELSE state END
                 WHERE id = ANY(%s)
                """,
                [job.uuid, chunk],
            )
        self.invalidate_recordset(["job_uuid", "state"])

    def _schedule_retry(self, eta):
        """A job that processes these events again at ``eta`` (a datetime, UTC)."""
        if not self:
            return
        job = self._new_job(self.ids, f"Retry {len(self)} integration events", eta=eta)
        self.sudo().write({"job_uuid": job.uuid})

    # -- processing ---------------------------------------------------------------------

    def _process_chunk(self):
        """Job: apply the chunk's events in subject order, each in its own savepoint.

        Events are claimed with FOR UPDATE SKIP LOCKED: a concurrent job (a requeued one
        after a crash) skips them instead of applying them twice. An event's state and
        its business effect commit together, so a crash leaves it queued, not half done.
        """
        events = self.sudo()
        self.flush_model()
        self.env.cr.execute(
            f"""
            SELECT id FROM mfg_integration_event
             WHERE id = ANY(%s) AND state IN ('received', 'queued', 'waiting')
             ORDER BY {SUBJECT_ORDER}
               FOR UPDATE SKIP LOCKED
            """,
            [list(events.ids)],
        )
        claimed = events.browse([row[0] for row in self.env.cr.fetchall()])
        blocked = claimed._blocked_by_earlier()
        held_subjects = set()
        released = set()
        for event in claimed:
            if event.subject and (event.id in blocked or event.subject in held_subjects):
                event._wait_for_order()
                held_subjects.add(event.subject)
                continue
            outcome = event._process_one()
            if outcome == "done":
                if event.subject:
                    released.add(event.subject)
            elif event.subject:
                held_subjects.add(event.subject)
        released -= held_subjects
        if released:
            self._release_subjects(released)
        self.flush_model()
        self.env["mfg.integration.traffic"]._add_outcomes(claimed.ids)
        return f"{len(claimed)} events processed"

    def _blocked_by_earlier(self):
        """Ids of these events that have an earlier, still pending event of their subject
        outside this set (set-based: one query for the whole chunk)."""
        with_subject = self.filtered("subject")
        if not with_subject:
            return set()
        self.flush_model()
        self.env.cr.execute(
            """
            SELECT e.id
              FROM mfg_integration_event e
             WHERE e.id = ANY(%(ids)s)
               AND EXISTS (
                   SELECT 1 FROM mfg_integration_event p
                    WHERE p.subject = e.subject
                      AND p.direction = e.direction
                      AND p.state IN %(pending)s
                      AND NOT p.id = ANY(%(ids)s)
                      AND (p.occurred_at, COALESCE(p.sequence, ''), p.id)
                          < (e.occurred_at, COALESCE(e.sequence, ''), e.id))
            """,
            {"ids": list(with_subject.ids), "pending": PENDING_STATES},
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _wait_for_order(self):
        first_time = not (self.state == "waiting" and self.wait_reason == "order")
        self.write({"state": "waiting", "wait_reason": "order", "wait_until": False})
        if first_time:
            # The earlier event releases its successors when it is done; this one delayed
            # check covers an earlier event that finished while this transaction was open.
            self._schedule_retry(fields.Datetime.now() + timedelta(seconds=5))

    def _process_one(self):
        """Apply one event; returns done, failed, waiting, retry or dead."""
        self.ensure_one()
        contract = self.contract_id
        try:
            handler = handler_registry.get(
                self.event_type, contract.version_major, self._installed_modules()
            )
        except LookupError as error:
            return self._fail_technical(str(error), final=True)
        if handler is None:
            return self._fail_business(
                BusinessError(
                    "no_handler",
                    f"Odoo has no handler for {self.event_type} {contract.version}",
                    suggested_action="Install the addon that handles this contract, then retry.",
                )
            )
        started = fields.Datetime.now()
        # Pending writes of earlier events are flushed here, outside this event's
        # savepoint: a failure there is not this event's and must not be blamed on it.
        self.env.flush_all()
        shadow = contract.shadow_mode or self.system_id.shadow_mode
        try:
            if shadow:
                result = self._run_in_shadow(handler)
            else:
                with self.env.cr.savepoint():
                    result = handler(self.env, self)
        except BusinessError as error:
            return self._fail_business(error)
        except PrerequisiteMissing as error:
            return self._wait_for_prerequisite(error)
        except Exception as error:
            _logger.warning(
                "Event %s (%s, correlation %s) failed: %s",
                self.id,
                self.event_type,
                self.correlation_id,
                error,
            )
            return self._fail_technical(
                f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}"
            )
        occurred = self.occurred_at or self.received_at or started
        values = {
            "state": "done",
            "processed_at": started,
            "latency_s": max(0.0, (fields.Datetime.now() - occurred).total_seconds()),
            "attempts": self.attempts + 1,
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
        self.write(values)
        return "done"

    def _fail_business(self, error):
        exception = self.env["mfg.integration.exception"]._open_for_event(
            self,
            category="business",
            reason_code=error.reason_code,
            message=error.message,
            suggested_action=error.suggested_action,
            key_fields=error.key_fields,
        )
        self.write(
            {
                "state": "failed",
                "attempts": self.attempts + 1,
                "error_code": error.reason_code,
                "error": error.message,
                "exception_id": exception.id,
                "wait_reason": False,
                "next_attempt_at": False,
            }
        )
        return "failed"

    def _fail_technical(self, details, final=False):
        attempts = self.attempts + 1
        contract = self.contract_id
        if final or attempts >= contract.max_attempts:
            exception = self.env["mfg.integration.exception"]._open_for_event(
                self,
                category="technical",
                reason_code="retries_exhausted",
                message=_(
                    "%(type)s event could not be processed after %(n)s attempts",
                    type=self.event_type,
                    n=attempts,
                ),
                suggested_action=_(
                    "Read the technical details, fix the cause (configuration, locks, "
                    "a down system), then retry."
                ),
                details=details,
            )
            self.write(
                {
                    "state": "dead",
                    "attempts": attempts,
                    "error_code": "retries_exhausted",
                    "error": details,
                    "exception_id": exception.id,
                }
            )
            return "dead"
        delay = backoff_delay(attempts, contract.retry_base_seconds, contract.retry_max_seconds)
        eta = fields.Datetime.now() + timedelta(seconds=delay)
        self.write(
            {
                "state": "queued",
                "attempts": attempts,
                "error_code": "technical_error",
                "error": details,
                "next_attempt_at": eta,
            }
        )
        self._schedule_retry(eta)
        return "retry"

    def _wait_for_prerequisite(self, error):
        now = fields.Datetime.now()
        deadline = (
            self.wait_until
            if self.wait_reason == "prerequisite" and self.wait_until
            else (
                (self.received_at or now)
                + timedelta(minutes=self.contract_id.prerequisite_wait_minutes)
            )
        )
        if now >= deadline:
            return self._fail_business(
                BusinessError(
                    "prerequisite_missing",
                    error.message,
                    suggested_action=_(
                        "Check that the earlier message reached Odoo (or create the record it "
                        "refers to), then retry."
                    ),
                    key_fields=error.key_fields,
                )
            )
        attempts = self.attempts + 1
        delay = min(60 * attempts, 300)
        eta = min(deadline, now + timedelta(seconds=delay))
        self.write(
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
        self._schedule_retry(eta)
        return "waiting"

    @api.model
    def _release_subjects(self, subjects):
        """Process events that waited only because an earlier one of their subject was pending."""
        waiting = self.search(
            [
                ("subject", "in", list(subjects)),
                ("state", "=", "waiting"),
                ("wait_reason", "=", "order"),
            ]
        )
        if waiting:
            waiting._enqueue_in_chunks()

    # -- actions (also used by the exception queue) -----------------------------------------

    def action_retry(self):
        """Process again now (after a fix): failed, dead, waiting or discarded events."""
        retryable = self.filtered(lambda e: e.state in ("failed", "dead", "waiting", "queued"))
        if len(retryable) != len(self):
            raise UserError(_("Only failed, dead, waiting or queued events can be retried."))
        retryable.sudo().write(
            {
                "state": "queued",
                "attempts": 0,
                "wait_reason": False,
                "wait_until": False,
                "next_attempt_at": False,
            }
        )
        retryable.sudo()._enqueue_in_chunks()
        return True

    def _discard(self, reason):
        subjects = set(self.filtered("subject").mapped("subject"))
        self.sudo().write({"state": "discarded", "error": reason, "wait_reason": False})
        if subjects:
            self._release_subjects(subjects)

    def action_view_result(self):
        self.ensure_one()
        if not self.result_model or not self.result_res_id:
            raise UserError(_("This event did not result in an Odoo record."))
        return {
            "type": "ir.actions.act_window",
            "res_model": self.result_model,
            "res_id": self.result_res_id,
            "view_mode": "form",
        }

    def action_view_correlated(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event"
        )
        action["domain"] = [("correlation_id", "=", self.correlation_id)]
        return action

    # -- crons --------------------------------------------------------------------------

    @api.model
    def _cron_process_batch_contracts(self, limit=5000):
        """Batch contracts: events left 'received' by the API are processed here."""
        events = self.search(
            [("state", "=", "received"), ("direction", "=", "inbound")], limit=limit, order="id"
        )
        events._enqueue_in_chunks()
        return len(events)

    @api.model
    def _cron_resume_stalled(self):
        """Safety net after crashes or lost wake-ups.

        * queued events, and events waiting for a prerequisite, whose retry time has
          passed but whose job is gone, finished or failed (a worker killed mid-batch);
        * events waiting for an earlier event of their subject that is no longer pending.
        Claiming with SKIP LOCKED in the job makes a spurious requeue harmless.
        """
        now = fields.Datetime.now()
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT e.id
              FROM mfg_integration_event e
              LEFT JOIN queue_job j ON j.uuid = e.job_uuid
             WHERE (e.state = 'queued' OR (e.state = 'waiting' AND e.wait_reason = 'prerequisite'))
               AND e.direction = 'inbound'
               AND (j.id IS NULL OR j.state IN ('done', 'failed', 'cancelled'))
               AND COALESCE(e.next_attempt_at, e.write_date) <= %(now)s
            UNION
            SELECT e.id
              FROM mfg_integration_event e
             WHERE e.state = 'waiting' AND e.wait_reason = 'order'
               AND NOT EXISTS (
                   SELECT 1 FROM mfg_integration_event p
                    WHERE p.subject = e.subject AND p.direction = e.direction
                      AND p.state IN %(pending)s
                      AND (p.occurred_at, COALESCE(p.sequence, ''), p.id)
                          < (e.occurred_at, COALESCE(e.sequence, ''), e.id))
             LIMIT 20000
            """,
            {"now": now, "pending": PENDING_STATES},
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if ids:
            _logger.warning("Requeueing %s stalled integration events", len(ids))
            self.browse(ids)._enqueue_in_chunks()
        return len(ids)

    @api.model
    def _cron_purge_payloads(self, batch_size=5000, max_batches=20):
        """Retention: purge payloads of done events older than their system's retention.

        Rows (the idempotency keys) stay; they are deleted only after twice the
        retention, so a late resend is still answered 'duplicate'. Bounded batches keep
        locks and WAL short.
        """
        purged = deleted = 0
        self.env.flush_all()
        for _batch in range(max_batches):
            self.env.cr.execute(
                """
                UPDATE mfg_integration_event e
                   SET payload = NULL, envelope_extra = NULL, raw_body = NULL, payload_purged = TRUE
                 WHERE e.id IN (
                       SELECT e2.id FROM mfg_integration_event e2
                         JOIN mfg_integration_system s ON s.id = e2.system_id
                        WHERE e2.state IN ('done', 'discarded', 'rejected')
                          AND NOT e2.payload_purged IS TRUE
                          AND e2.received_at < now() at time zone 'utc'
                                               - make_interval(days => s.retention_days)
                        LIMIT %s)
                """,
                [batch_size],
            )
            purged += self.env.cr.rowcount
            if self.env.cr.rowcount < batch_size:
                break
        for _batch in range(max_batches):
            self.env.cr.execute(
                """
                DELETE FROM mfg_integration_event e
                 WHERE e.id IN (
                       SELECT e2.id FROM mfg_integration_event e2
                         JOIN mfg_integration_system s ON s.id = e2.system_id
                        WHERE e2.state IN ('done', 'discarded', 'rejected')
                          AND e2.payload_purged IS TRUE
                          AND e2.received_at < now() at time zone 'utc'
                                               - make_interval(days => 2 * s.retention_days)
                        LIMIT %s)
                """,
                [batch_size],
            )
            deleted += self.env.cr.rowcount
            if self.env.cr.rowcount < batch_size:
                break
        self.invalidate_model()
        if purged or deleted:
            _logger.info(
                "Retention: %s payloads purged, %s old event rows deleted", purged, deleted
            )
        return purged, deleted

    # -- shadow mode ----------------------------------------------------------------------

    shadow = fields.Boolean(
        string="Shadow Run",
        readonly=True,
        index="btree_not_null",
        help="Processed in shadow mode: the handler ran and was rolled back; its effects "
        "are recorded below, nothing changed in Odoo.",
    )
    shadow_effects = fields.Json(readonly=True)
    shadow_effects_pretty = fields.Text(
        compute="_compute_shadow_effects_pretty", string="What This Path Would Have Done"
    )

    @api.depends("shadow_effects")
    def _compute_shadow_effects_pretty(self):
        for event in self:
            event.shadow_effects_pretty = _pretty_json(event.shadow_effects or None)

    def _run_in_shadow(self, handler):
        """Run ``handler`` in a savepoint that is rolled back; return what it would have done.

        Business errors, missing prerequisites and technical errors propagate as in a live
        run, so a shadow contract shows the failures the new path would have. The effects
        are read (after a flush) before the rollback; see services/shadow.py for the limits.
        """
        self.ensure_one()
        recorder = shadow_service.ShadowRecorder(self.contract_id._shadow_fields())
        effects = None
        try:
            with (
                shadow_service.callbacks_kept(self.env.cr),
                self.env.cr.savepoint(),
                shadow_service.recording(self.env.cr, recorder),
            ):
                result = handler(self.env, self)
                self.env.flush_all()
                effects = recorder.effects(self.env, result)
                raise _ShadowRollback
        except _ShadowRollback:
            pass
        return effects

    # -- planner UI: corrected payloads, timeline ----------------------------------------

    original_payload = fields.Json(
        readonly=True, help="The data as first received, kept when a person corrected it."
    )
    original_payload_pretty = fields.Text(
        compute="_compute_original_payload_pretty", string="Data as Received"
    )
    timeline = fields.Html(compute="_compute_timeline", sanitize=False)

    @api.depends("original_payload")
    def _compute_original_payload_pretty(self):
        for event in self:
            event.original_payload_pretty = _pretty_json(event.original_payload or None)

    def _compute_timeline(self):
        jobs = (
            self.env["queue.job"]
            .sudo()
            .search([("uuid", "in", [uuid_ for uuid_ in self.mapped("job_uuid") if uuid_])])
        )
        by_uuid = {job.uuid: job for job in jobs}
        for event in self:
            job = by_uuid.get(event.job_uuid)
            steps = [
                (_("Occurred at the source"), event.occurred_at, ""),
                (_("Received by Odoo"), event.received_at, ""),
                (_("Queued"), job and job.date_created, (job and job.state) or ""),
                (_("Job started"), job and job.date_started, ""),
                (
                    _("Processed"),
                    event.processed_at,
                    _("%(n)s attempt(s)", n=event.attempts) if event.attempts else "",
                ),
            ]
            if event.next_attempt_at:
                steps.append((_("Next attempt"), event.next_attempt_at, ""))
            event.timeline = _timeline_html(self.env, steps, event.latency_s, event.state)

    # -- traffic counters (overview, metrics) -------------------------------------------

    @api.model
    def _count_traffic(self, system, candidates, inserted, duplicate_rows, refused_count):
        """Add one API batch to the hourly counters: one insert, a row per contract."""
        counts = defaultdict(Counter)
        for _index, row in candidates:
            if (row["source"], row["event_uid"]) in inserted:
                key = (system.id, row["contract_id"])
                counts[key]["received"] += 1
                # record-only contracts are done once stored
                if row["mode"] == "record":
                    counts[key]["done"] += 1
                    counts[key]["latency_sum"] += row["latency_s"]
        for row in duplicate_rows:
            counts[system.id, row["contract_id"]]["duplicates"] += 1
        counts[system.id, None]["rejected"] += refused_count
        self.env["mfg.integration.traffic"]._add(counts)


def _pretty_json(value):
    """JSON for people: indented, keys sorted, non-ASCII kept; False for no value."""
    if value is None:
        return False
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _timeline_html(env, steps, latency, state):
    rows = Markup()
    previous = None
    for label, moment, note in steps:
        if not moment:
            continue
        delta = (
            Markup(' <span class="text-muted">+%s</span>')
            % duration((moment - previous).total_seconds())
            if previous
            else Markup()
        )
        rows += Markup(
            '<li class="list-group-item d-flex justify-content-between py-1">'
            "<span><b>%s</b>%s%s</span><span>%s</span></li>"
        ) % (
            label,
            delta,
            Markup(' <span class="badge text-bg-light">%s</span>') % note if note else Markup(),
            format_datetime(env, moment, dt_format="medium"),
        )
        previous = moment
    summary = (
        Markup('<p class="mb-1">%s <b>%s</b></p>')
        % (_("Latency from occurrence to Odoo:"), duration(latency))
        if latency and state == "done"
        else Markup()
    )
    return summary + Markup('<ul class="list-group list-group-flush">%s</ul>') % rows


def _text(value, limit):
    # PostgreSQL text cannot hold NUL: a refused event is logged with U+FFFD in its place
    return value[:limit].replace("\x00", "\ufffd") if isinstance(value, str) else None


def _duplicate(row, held_sequence):
    """The answer to a resend: the ``sequence`` of the copy Odoo holds lets the sender tell
    its own earlier attempt (same sequence: count it as delivered) from a replay of an event
    it delivered before (another sequence: already counted)."""
    return {"status": "duplicate", "id": row["event_uid"], "sequence": held_sequence}


def _key_reused_error(first_index):
    where = (
        f" (event {first_index} of this batch has the same id)" if first_index is not None else ""
    )
    return {
        "code": "idempotency_key_reused",
        "pointer": "/id",
        "message": "This event id was already used by this source with a different content"
        f"{where}; a changed event needs a new id.",
    }


class _ShadowRollback(Exception):
    """Raised at the end of a shadow run to roll its savepoint back."""
