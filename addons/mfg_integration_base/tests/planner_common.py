"""A contract whose handler maps a partner code: failures are missing mappings, the most
common exception a planner fixes."""

import json
import uuid

from ..services.handler_registry import registry
from .common import JobQueue, utc_stamp

PARTNER_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["partner"],
    "additionalProperties": False,
    "properties": {"partner": {"type": "string", "minLength": 1}, "qty": {"type": "integer"}},
}


@registry.handler("test.partner.seen", major=1)
def handle_partner_seen(env, event):
    return event._map("partner", event.payload["partner"])


def create_partner_contract(env):
    return env["mfg.integration.contract"].create(
        {
            "name": "Partner seen",
            "code": "test.partner.seen",
            "version": "1.0",
            "schema": json.dumps(PARTNER_SCHEMA),
            "state": "active",
            "sla_latency_seconds": 3600,
        }
    )


def partner_envelope(code, subject=None, **data):
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "plant1/sap",
        "type": "test.partner.seen",
        "time": utc_stamp(),
        "subject": subject or f"DOC-{uuid.uuid4().hex[:8]}",
        "data": dict({"partner": code}, **data),
    }


def receive(env, system, envelopes):
    """Ingest and process ``envelopes`` as the API and the job runner would."""
    queue = JobQueue(env)
    env["mfg.integration.event"].sudo()._ingest(system, list(envelopes))
    queue.perform_all(immediate_only=True)
    return env["mfg.integration.event"].search(
        [("event_uid", "in", [e["id"] for e in envelopes]), ("state", "!=", "rejected")],
        order="id",
    )
