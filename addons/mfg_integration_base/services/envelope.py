"""The canonical CloudEvents 1.0 envelope: structure checks, version parsing, payload hash."""

import hashlib
import json
import re
from datetime import UTC, datetime

DATASCHEMA_PREFIX = "urn:mfg:contract:"
VERSION_PATTERN = re.compile(r"^(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,3})$")
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,5}$")
ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]{1,20}$")

# Attributes whose value is a string, with their maximum length.
STRING_ATTRIBUTES = {
    "id": 128,
    "source": 256,
    "type": 128,
    "specversion": 8,
    "dataschema": 256,
    "subject": 256,
    "time": 40,
    "correlationid": 128,
    "causationid": 128,
    "sequence": 64,
    "datacontenttype": 64,
    "receivedtime": 40,
    "clockquality": 32,
}
REQUIRED = ("specversion", "id", "source", "type", "data")


class EnvelopeError(ValueError):
    """An envelope that cannot be accepted; carries a code and a JSON pointer."""

    def __init__(self, code, pointer, message):
        super().__init__(message)
        self.code = code
        self.pointer = pointer
        self.message = message


def parse_version(text):
    """'1.2' -> (1, 2); raises ValueError on anything else."""
    match = VERSION_PATTERN.match(text or "")
    if not match:
        raise ValueError(f"'{text}' is not a MAJOR.MINOR version")
    return int(match.group(1)), int(match.group(2))


def dataschema_uri(contract_code, version):
    return f"{DATASCHEMA_PREFIX}{contract_code}:{version}"


def parse_time(text):
    """An RFC 3339 timestamp as a naive UTC datetime (how Odoo stores datetimes)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("the timestamp has no time zone offset")
    return parsed.astimezone(UTC).replace(tzinfo=None)


def check_envelope(envelope):
    """Validate the envelope's own attributes; returns (contract_code, version or None).

    Raises EnvelopeError for the first problem found.
    """
    if not isinstance(envelope, dict):
        raise EnvelopeError("malformed_envelope", "", "An event must be a JSON object.")
    for name in REQUIRED:
        if name not in envelope:
            raise EnvelopeError("missing_attribute", f"/{name}", f"Attribute '{name}' is required.")
    for name, value in envelope.items():
        if name == "data":
            continue
        limit = STRING_ATTRIBUTES.get(name)
        if limit is None:
            if not isinstance(name, str) or not ATTRIBUTE_NAME.match(name):
                raise EnvelopeError(
                    "invalid_attribute",
                    f"/{name}",
                    "CloudEvents attribute names are 1-20 lower-case letters or digits.",
                )
            continue  # other extension attributes are kept as sent
        if not isinstance(value, str):
            raise EnvelopeError(
                "invalid_attribute", f"/{name}", f"Attribute '{name}' must be a string."
            )
        if name in REQUIRED and not value.strip():
            raise EnvelopeError(
                "invalid_attribute", f"/{name}", f"Attribute '{name}' must not be empty."
            )
        if len(value) > limit:
            raise EnvelopeError(
                "invalid_attribute",
                f"/{name}",
                f"Attribute '{name}' is longer than {limit} characters.",
            )
        if "\x00" in value:
            raise EnvelopeError(
                "invalid_attribute", f"/{name}", f"Attribute '{name}' contains a NUL character."
            )
    if envelope["specversion"] != "1.0":
        raise EnvelopeError(
            "unsupported_specversion",
            "/specversion",
            "Only CloudEvents specversion 1.0 is accepted.",
        )
    if not TYPE_PATTERN.match(envelope["type"]):
        raise EnvelopeError(
            "invalid_attribute",
            "/type",
            "Attribute 'type' must name a contract as domain.object.verb in lower case.",
        )
    if not isinstance(envelope["data"], dict):
        raise EnvelopeError("invalid_data", "/data", "Attribute 'data' must be a JSON object.")
    nul_at = find_nul(envelope["data"])
    if nul_at is not None:
        raise EnvelopeError(
            "invalid_data",
            "/data" + nul_at,
            "The data contains a NUL character (\\u0000), which cannot be stored.",
        )
    content_type = envelope.get("datacontenttype")
    if content_type and content_type.split(";")[0].strip() != "application/json":
        raise EnvelopeError(
            "invalid_attribute", "/datacontenttype", "Only application/json data is accepted."
        )
    for name in ("time", "receivedtime"):
        if name in envelope:
            try:
                parse_time(envelope[name])
            except ValueError as error:
                raise EnvelopeError(
                    "invalid_attribute",
                    f"/{name}",
                    f"Attribute '{name}' is not an RFC 3339 timestamp: {error}.",
                ) from error
    version = None
    if "dataschema" in envelope:
        uri = envelope["dataschema"]
        prefix = f"{DATASCHEMA_PREFIX}{envelope['type']}:"
        if not uri.startswith(prefix):
            raise EnvelopeError(
                "invalid_dataschema",
                "/dataschema",
                f"Attribute 'dataschema' must be '{prefix}<MAJOR.MINOR>'.",
            )
        version = uri[len(prefix) :]
        try:
            parse_version(version)
        except ValueError as error:
            raise EnvelopeError("invalid_dataschema", "/dataschema", str(error)) from error
    return envelope["type"], version


def find_nul(value, pointer=""):
    """JSON pointer to the first string (or key) holding a NUL character, else None.

    PostgreSQL's jsonb cannot store U+0000, so such data must be refused up front.
    """
    if isinstance(value, str):
        return pointer if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = pointer + "/" + str(key).replace("~", "~0").replace("/", "~1")
            if "\x00" in key:
                return child
            found = find_nul(item, child)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_nul(item, f"{pointer}/{index}")
            if found is not None:
                return found
    return None


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_hash(envelope, data_json=None):
    """sha256 of the business content, the part that must not change under one event id.

    Transport attributes (receivedtime, clockquality, sequence, trace ids) are left out,
    so a gateway that resends the same event after a crash is answered 'duplicate'.
    ``data_json`` is ``canonical_json(envelope["data"])`` when the caller has it already.
    """
    if data_json is None:
        data_json = canonical_json(envelope.get("data"))
    head = canonical_json(
        [envelope.get(name) for name in ("type", "dataschema", "subject", "time")]
    )
    return hashlib.sha256(f"{head}\n{data_json}".encode()).hexdigest()
