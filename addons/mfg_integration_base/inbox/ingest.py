"""Ingest: an API batch of envelopes becomes event rows, set-based, in the caller's transaction.

Invariants: one INSERT ... ON CONFLICT DO NOTHING on the idempotency key for the accepted
rows and one INSERT for the refused ones; realtime rows get their ids and their job's uuid
before the insert, so each row is written once; a resend with the same payload is answered
"duplicate" and changes nothing.
"""

import json
import logging
import uuid

from psycopg2.extensions import AsIs
from psycopg2.extras import execute_values

from odoo import fields

from ..services import schema_validation
from ..services.envelope import (
    EnvelopeError,
    canonical_json,
    check_envelope,
    parse_time,
    parse_version,
    payload_hash,
)
from ..services.event_states import precise_now
from ..services.registry import installed_modules
from ..services.upcasters import apply_chain, upcasters
from . import jobs

_logger = logging.getLogger(__name__)

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
# What a refused event keeps of what was sent.
RAW_BODY_LIMIT = 65536
# Where an accepted event starts, by its contract's processing mode. Record-only events
# (telemetry kept for analytics and reconciliation) are done once stored.
INITIAL_STATE = {"realtime": "queued", "batch": "received", "record": "done"}


def contract_table(env):
    """{code: {version: contract}} of inbound contracts the API accepts today."""
    contracts = (
        env["mfg.integration.contract"]
        .sudo()
        .search([("direction", "=", "inbound"), ("state", "in", ("active", "deprecated"))])
    )
    table = {}
    for contract in contracts:
        if contract._accepts_events():
            table.setdefault(contract.code, {})[contract.version] = contract
    return table


def ingest(env, system, envelopes):
    """Validate, persist and enqueue a batch of envelopes posted by ``system``.

    Returns one result dict per envelope, in order: ``status`` is accepted,
    duplicate or rejected (with ``error``: code, pointer, message, and
    ``forbidden`` when the contract is not allowed for the system). A duplicate
    carries the ``sequence`` of the copy Odoo holds (None if it came without one):
    a sender tells its own earlier attempt (same sequence) from a source's replay.
    Set-based: one INSERT for the accepted rows, one for the refused ones.
    """
    now = fields.Datetime.now()
    table = contract_table(
        env,
    )
    allowed_codes = set(system.allowed_contract_ids.mapped("code"))
    results = [None] * len(envelopes)
    candidates = []  # (index, row) to insert
    batch_keys = {}  # idempotency key -> (index, hash) inside this batch
    refused = []  # (index, envelope, error dict)
    duplicate_rows = []  # rows of resends, counted for the overview and metrics

    for index, envelope in enumerate(envelopes):
        try:
            row = prepare_row(env, system, envelope, table, allowed_codes, now)
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

    chunks = plan_chunks(env, [row for _index, row in candidates]) if candidates else []
    inserted = insert_rows(env, [row for _index, row in candidates]) if candidates else {}
    conflicts = [
        (index, row)
        for index, row in candidates
        if (row["source"], row["event_uid"]) not in inserted
    ]
    existing = existing_keys(env, system, [row for _index, row in conflicts]) if conflicts else {}
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
            "id": _sent_id(envelope),
            "error": problem,
        }
    if refused:
        log_refused(env, system, [(envelope, problem) for _i, envelope, problem in refused], now)

    store_chunk_jobs(env, chunks, inserted)
    env["mfg.integration.traffic"]._count_ingest(
        system, candidates, inserted, duplicate_rows, len(refused)
    )
    return results


def plan_chunks(env, rows):
    """Give realtime rows their id and their job's uuid before they are inserted.

    Rows are ordered by subject and time, so a subject's events stay together and in
    order, and cut into chunks of one job each. Knowing ids and job uuids up front, each
    row is written once: no second UPDATE of a freshly inserted row to link its job.
    """
    realtime = [row for row in rows if row["mode"] == "realtime"]
    if not realtime:
        return []
    env.cr.execute(
        "SELECT nextval('mfg_integration_event_id_seq') FROM generate_series(1, %s)",
        [len(realtime)],
    )
    for row, (new_id,) in zip(realtime, env.cr.fetchall(), strict=True):
        row["id"] = new_id
    realtime.sort(
        key=lambda r: (r["subject"] is None, r["subject"] or "", r["occurred_at"],
                       r["sequence"] or "", r["id"])
    )  # fmt: skip
    chunks = []
    for start in range(0, len(realtime), jobs.CHUNK_SIZE):
        job_uuid = str(uuid.uuid4())
        chunk = realtime[start : start + jobs.CHUNK_SIZE]
        for row in chunk:
            row["job_uuid"] = job_uuid
        chunks.append((job_uuid, chunk))
    return chunks


def store_chunk_jobs(env, chunks, inserted):
    """One queue_job per chunk, for the rows that were really inserted (not duplicates)."""
    for job_uuid, chunk in chunks:
        ids = [row["id"] for row in chunk if (row["source"], row["event_uid"]) in inserted]
        if ids:
            jobs.new_job(env, ids, f"Process {len(ids)} integration events", job_uuid=job_uuid)


def prepare_row(env, system, envelope, table, allowed_codes, now):
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
    upcast = None
    if contract is None:
        upcast = upcast_plan(env, code, version, versions)
        if upcast is None:
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
    sent_contract = upcast[0] if upcast else contract
    errors = schema_validation.validation_errors(sent_contract._validator(), envelope["data"])
    if errors:
        pointer, sentence = errors[0]
        raise EnvelopeError("schema_invalid", pointer, sentence)
    occurred = parse_time(envelope["time"]) if "time" in envelope else now
    extra = {key: value for key, value in envelope.items() if key not in COLUMN_ATTRIBUTES}
    # one serialisation serves both the stored payload and its hash
    data_json = canonical_json(envelope["data"])
    original_json = None
    hash_json = data_json
    if upcast:
        _old, contract, steps = upcast
        data_json, original_json = upcast_data(contract, steps, envelope["data"], version)
    return {
        "system_id": system.id,
        "contract_id": contract.id,
        # the version it was sent in counts the traffic (who still sends it)
        "sent_contract_id": sent_contract.id,
        "original_payload": original_json,
        "upcast_from_version": version if upcast else None,
        "event_type": code,
        "contract_version": contract.version,
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
        # the hash is of what was sent: a resend of a converted event is a duplicate
        "payload_hash": payload_hash(envelope, hash_json),
        "mode": contract.processing_mode,
        # record-only events are done once stored: their latency is the arrival's
        "latency_s": max(0.0, (precise_now() - occurred).total_seconds())
        if contract.processing_mode == "record"
        else None,
    }


def upcast_plan(env, code, version, versions):
    """(contract sent, contract to convert to, steps) for an event of a version the API no
    longer accepts, when the contract's addon converts that major; else None."""
    sent = (
        env["mfg.integration.contract"]
        .sudo()
        .with_context(active_test=False)
        .search(
            [("code", "=", code), ("version", "=", version), ("direction", "=", "inbound")],
            limit=1,
        )
    )
    if not sent:
        return None
    newest = max(versions, key=parse_version)
    target = versions[newest]
    if target.version_major <= sent.version_major:
        return None
    steps = upcasters.chain(code, sent.version_major, target.version_major, installed_modules(env))
    return (sent, target, steps) if steps else None


def upcast_data(contract, steps, data, version):
    """The converted data's JSON and the original's; EnvelopeError when the result does not
    match the contract it was converted to (the upcaster's fault, said so)."""
    try:
        converted = apply_chain(steps, data)
    except Exception as error:
        raise EnvelopeError(
            "upcast_failed",
            "/data",
            f"Converting version {version} to {contract.version} failed: {error}",
        ) from error
    errors = schema_validation.validation_errors(contract._validator(), converted)
    if errors:
        pointer, sentence = errors[0]
        raise EnvelopeError(
            "upcast_failed",
            pointer,
            f"Converted from version {version} to {contract.version}, the data is invalid: "
            f"{sentence}",
        )
    return canonical_json(converted), canonical_json(data)


def insert_rows(env, rows):
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
            row.get("original_payload"),
            row.get("upcast_from_version"),
            row["envelope_extra"],
            row["payload_hash"],
            INITIAL_STATE[row["mode"]],
            row["received_at"] if row["mode"] == "record" else None,
            row["latency_s"],
        )
        for row in rows
    ]
    returned = execute_values(
        env.cr._obj,
        """
        INSERT INTO mfg_integration_event (
            id, job_uuid, create_uid, create_date, write_uid, write_date, direction, system_id,
            contract_id, event_type, contract_version, event_uid, source, subject,
            sequence, correlation_id, causation_id, clock_quality, occurred_at,
            received_at, payload, original_payload, upcast_from_version, envelope_extra,
            payload_hash, state, processed_at, latency_s, attempts)
        VALUES %s
        ON CONFLICT (system_id, source, event_uid)
           WHERE direction = 'inbound' AND state <> 'rejected'
        DO NOTHING
        RETURNING source, event_uid, id
        """,
        values,
        template=(
            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
            "%s::jsonb,%s::jsonb,%s,%s::jsonb,%s,%s,%s,%s,0)"
        ),
        page_size=len(values),
        fetch=True,
    )
    env["mfg.integration.event"].invalidate_model()
    return {(source, uid_): id_ for source, uid_, id_ in returned}


def existing_keys(env, system, rows):
    """{(source, event_uid): (payload_hash, sequence)} of already stored events among
    ``rows``."""
    keys = [(row["source"], row["event_uid"]) for row in rows]
    found = execute_values(
        env.cr._obj,
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


def log_refused(env, system, refused, now):
    """Keep what was sent, and why it was refused, so a person can see it."""
    uid = env.uid
    values = []
    for envelope, problem in refused:
        envelope_ok = isinstance(envelope, dict)
        raw = envelope if not envelope_ok else json.dumps(envelope, ensure_ascii=False, default=str)
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
        env.cr._obj,
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


def log_refused_request(env, system, raw_body, code, message):
    """A whole request refused (malformed, too large): keep its first bytes."""
    now = fields.Datetime.now()
    log_refused(env, system, [(raw_body, {"code": code, "message": message})], now)
    env["mfg.integration.traffic"]._add({(system.id, None): {"rejected": 1}})


def _sent_id(envelope):
    """The id to answer a refused event with: the string it sent, else None (never an object)."""
    sent = envelope.get("id") if isinstance(envelope, dict) else None
    return sent if isinstance(sent, str) else None


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
