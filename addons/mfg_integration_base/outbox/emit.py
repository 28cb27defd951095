"""Emit: outbound events written in the business transaction (a transactional outbox).

Invariants: ``data`` is validated against the outbound contract before anything is
written; one row per destination system, each with the next sequence number of its
(system, subject), in a constant number of queries; that system's dispatcher job is
enqueued in the same transaction, so nothing leaves Odoo unless the business change
commits.
"""

import logging
import uuid

from psycopg2.extras import execute_values

from odoo import _, fields, models
from odoo.exceptions import UserError, ValidationError

from ..services import schema_validation
from ..services.envelope import canonical_json, payload_hash
from . import dispatcher

_logger = logging.getLogger(__name__)

# Digits of an outbound event's sequence (zero-padded, so text order is number order).
SEQUENCE_WIDTH = 12


def emit_many(env, contract_code, items, systems=None, version=None):
    """Set-based ``emit``: a constant number of queries for any number of events."""
    contract = env["mfg.integration.contract"]._outbound_version(contract_code, version)
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
                    "Outbound %(contract)s data is invalid at %(pointer)s%(where)s: " "%(error)s",
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
    destinations = outbound_destinations(env, contract, systems)
    if not destinations or not prepared:
        _logger.debug("No system receives %s: nothing emitted", contract.code)
        return env["mfg.integration.event"].browse()

    pairs = [(system.id, item.get("subject") or "") for system in destinations
             for item, _data in prepared]  # fmt: skip
    sequences = take_sequences(env, pairs)
    # after the sequences: their row locks order concurrent emitters, and so do times
    now = fields.Datetime.now()
    source = outbound_source(env)
    env.cr.execute(
        "SELECT nextval('mfg_integration_event_id_seq') FROM generate_series(1, %s)",
        [len(pairs)],
    )
    ids = [row[0] for row in env.cr.fetchall()]
    uid = env.uid
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
        env.cr._obj,
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
    dispatcher.schedule_dispatch(env, destinations.ids)
    return env["mfg.integration.event"].browse(ids)


def outbound_destinations(env, contract, systems):
    System = env["mfg.integration.system"].sudo()
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
                raise UserError(_("Unknown systems: %(codes)s", codes=", ".join(sorted(missing))))
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


def outbound_source(env):
    """The CloudEvents ``source`` of this Odoo database's events."""
    parameters = env["ir.config_parameter"].sudo()
    configured = parameters.get_param("mfg_integration.outbound_source")
    return configured or f"odoo/{env.cr.dbname}"


def take_sequences(env, pairs):
    """The next sequence number of each (system_id, subject) in ``pairs`` (repeats
    get consecutive numbers), in one statement."""
    counts = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    # one lock order for every transaction: no deadlock between concurrent emitters
    keys = sorted(counts)
    env["mfg.integration.outbound.sequence"].flush_model()
    env.cr.execute(
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
        for system_id, subject, last in env.cr.fetchall()
    }
    result = []
    for pair in pairs:
        result.append(next_value[pair])
        next_value[pair] += 1
    return result
