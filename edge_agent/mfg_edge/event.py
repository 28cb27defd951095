"""The canonical event: its deterministic id, the one envelope builder, and the raw dead letter
(a source message no rule could turn into an event)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from .codec import dumps_compact, format_timestamp

# Fixed namespace for uuid5 event ids; changing it would make every replay look like new data.
EVENT_NAMESPACE = uuid.UUID("5b0f6a4e-3c1d-5e7a-9f2b-6d8c1a0e4b21")
TELEMETRY = "telemetry"
TRANSACTIONAL = "transactional"
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def event_id(
    source: str, contract_type: str, origin: str, payload: bytes, discriminator: str
) -> str:
    """uuid5 over the message identity: same source message -> same id, always."""
    digest = hashlib.sha256(payload).hexdigest()
    name = "|".join((source, contract_type, origin, digest, discriminator))
    # Same as uuid.uuid5(EVENT_NAMESPACE, name), without its per-call overhead on the hot path.
    hashed = hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()
    # The version (5) and variant (RFC 4122) bits set as uuid.UUID(bytes=..., version=5) does.
    octets = bytearray(hashed[:16])
    octets[6] = (octets[6] & 0x0F) | 0x50
    octets[8] = (octets[8] & 0x3F) | 0x80
    hx = octets.hex()
    return f"{hx[:8]}-{hx[8:12]}-{hx[12:16]}-{hx[16:20]}-{hx[20:]}"


@dataclass
class Event:
    """A normalized event for the store; `envelope` lacks `sequence` (the store assigns it)."""

    id: str
    type: str
    subject: str
    event_class: str
    envelope: dict[str, Any] | None
    source_time: float
    received_time: float
    # The envelope as JSON text, when it was encoded already (an MQTT shard process sends it so).
    text: str | None = None

    def envelope_json(self) -> str:
        if self.text is None:
            self.text = dumps_compact(self.envelope)
        return self.text


@dataclass
class RawDeadLetter:
    """A source message that no rule could turn into an event; kept so nothing is lost."""

    kind: str
    origin: str
    payload: bytes
    reason_code: str
    reason: str
    received_time: float
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(
            uuid.uuid5(
                EVENT_NAMESPACE,
                f"raw|{self.kind}|{self.origin}|{hashlib.sha256(self.payload).hexdigest()}",
            )
        )

    def body(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "origin": self.origin,
                "payload_b64": base64.b64encode(self.payload).decode("ascii"),
                "context": self.context,
            }
        )


def build_envelope(
    *,
    event_id: str,
    source: str,
    type: str,
    version: str,
    time: float,
    subject: str,
    data: dict[str, Any],
    received_time: float | None = None,
    correlation_id: str | None = None,
    clock_quality: str | None = None,
    sequence: int | None = None,
) -> dict[str, Any]:
    """The CloudEvents envelope of every event the agent sends: rule events, heartbeats and day
    summaries. `sequence` only for events that are never stored (the store assigns it)."""
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": type,
        "dataschema": f"urn:mfg:contract:{type}:{version}",
        "time": format_timestamp(time),
        "subject": subject,
        "datacontenttype": "application/json",
    }
    if received_time is not None:
        envelope["receivedtime"] = format_timestamp(received_time)
    if sequence is not None:
        envelope["sequence"] = f"{sequence:012d}"
    envelope["data"] = data
    if correlation_id:
        envelope["correlationid"] = correlation_id
    if clock_quality:
        envelope["clockquality"] = clock_quality
    return envelope
