"""Rules: turn a source message (MQTT payload, OPC-UA value, CSV row) into a canonical event.

A rule names a contract type and version, the subject (ordering key) and how each data field
is read from the message context. The id of the event is derived from the message's identity,
so the same source message always yields the same id (replays are duplicates, not new events).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

try:  # optional speed-up (a dependency of the package; the agent works without it)
    import orjson
except ImportError:  # pragma: no cover - exercised where no orjson wheel exists
    orjson = None

# Fixed namespace for uuid5 event ids; changing it would make every replay look like new data.
EVENT_NAMESPACE = uuid.UUID("5b0f6a4e-3c1d-5e7a-9f2b-6d8c1a0e4b21")
TELEMETRY = "telemetry"
TRANSACTIONAL = "transactional"
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
# One encoder for every envelope: json.dumps(..., separators=...) builds a new one per call.
_stdlib_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps_compact(value: Any) -> str:
    """Compact JSON text, non-ASCII kept: orjson when installed (about 10x faster on an
    envelope), else the standard library. Either output is valid JSON for the same value; what
    orjson refuses (integers beyond 64 bits, non-string keys) goes to the standard library."""
    if orjson is not None:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return _stdlib_encode(value)


def loads(data: bytes | str) -> Any:
    """json.loads, through orjson when it can: anything orjson refuses (NaN, a UTF-16 payload,
    invalid JSON) goes to the standard library, which accepts or explains it as before."""
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


_MISSING = object()


class RuleError(Exception):
    """A message does not fit its rule; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def resolve(context: Any, selector: str) -> Any:
    """Follow a dotted path (dict keys or list indices) through the context."""
    node = context
    for part in selector.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (
            isinstance(node, list)
            and part.lstrip("-").isdigit()
            and -len(node) <= int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def render(template: str, context: Any) -> str:
    def replace(match: re.Match) -> str:
        value = resolve(context, match.group(1).strip())
        if value is _MISSING or value is None or value == "":
            raise RuleError("missing_field", f"template {template!r}: {match.group(1)} is missing")
        return str(value)

    return _PLACEHOLDER.sub(replace, template)


def _convert(value: Any, kind: str | None, selector: str) -> Any:
    if kind is None or value is None:
        return value
    try:
        if kind == "string":
            return str(value)
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
            return int(number) if number.is_integer() else number
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "y"):
                return True
            if text in ("0", "false", "no", "n"):
                return False
            raise ValueError
    except (TypeError, ValueError):
        raise RuleError("bad_value", f"{selector}: {value!r} is not a valid {kind}") from None
    raise RuleError("bad_rule", f"unknown conversion {kind!r}")


def parse_timestamp(value: Any) -> float:
    """Epoch seconds (int/float, or milliseconds when > 1e11) or an RFC 3339 string."""
    if isinstance(value, bool):
        raise RuleError("bad_time", f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        return value / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise RuleError("bad_time", f"{value!r} is not an RFC 3339 timestamp") from None
        if parsed.tzinfo is None:
            raise RuleError("bad_time", f"{value!r} has no time zone offset")
        return parsed.timestamp()
    raise RuleError("bad_time", f"{value!r} is not a timestamp")


# Whole second -> "YYYY-MM-DDTHH:MM:SS": an envelope formats its source time and its receive
# time, and consecutive events mostly share both seconds. Bounded; cleared when it fills.
_SECONDS_TEXT: dict[int, str] = {}


def format_timestamp(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds, the form the envelope's `time` uses."""
    milliseconds = round(epoch * 1000)
    seconds, millis = divmod(milliseconds, 1000)
    text = _SECONDS_TEXT.get(seconds)
    if text is None:
        if len(_SECONDS_TEXT) >= 256:
            _SECONDS_TEXT.clear()
        text = _SECONDS_TEXT[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{millis:03d}Z"


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter semantics: + one level, # the rest (and the parent level)."""
    pattern_parts = pattern.split("/")
    topic_parts = topic.split("/")
    for index, part in enumerate(pattern_parts):
        if part == "#":
            return True
        if index >= len(topic_parts):
            return False
        if part != "+" and part != topic_parts[index]:
            return False
    return len(pattern_parts) == len(topic_parts)


def filter_covers(outer: str, inner: str) -> bool:
    """Does every topic that matches filter `inner` also match filter `outer`?"""
    outer_parts, inner_parts = outer.split("/"), inner.split("/")
    for index, part in enumerate(outer_parts):
        if part == "#":
            return True
        if index >= len(inner_parts):
            return False
        other = inner_parts[index]
        if other == "#" or (other == "+" and part != "+") or (part not in ("+", other)):
            return False
    return len(outer_parts) == len(inner_parts)


def filters_overlap(first: str, second: str) -> bool:
    """Is there a topic that matches both filters?"""
    first_parts, second_parts = first.split("/"), second.split("/")
    for index in range(max(len(first_parts), len(second_parts))):
        a = first_parts[index] if index < len(first_parts) else None
        b = second_parts[index] if index < len(second_parts) else None
        if a == "#" or b == "#":
            return True
        if a is None or b is None:
            return False
        if "+" not in (a, b) and a != b:
            return False
    return True


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


def _compile_template(template: str):
    """A template as a function of the context; a lone placeholder skips the regex."""
    match = _PLACEHOLDER.fullmatch(template)
    if match:
        selector = match.group(1).strip()
        get = _selector(selector.split("."))

        def single(context: Any) -> str:
            value = get(context)
            if value is _MISSING or value is None or value == "":
                raise RuleError("missing_field", f"template {template!r}: {selector} is missing")
            return str(value)

        return single
    return lambda context: render(template, context)


def _selector(parts: list[str]):
    """resolve() on a pre-split selector as a function: plain indexing first (dict keys, the
    common case); anything else (a missing key, a list index, a scalar) takes resolve()."""
    if len(parts) == 2:
        first, second = parts

        def two(context: Any) -> Any:
            try:
                return context[first][second]
            except (KeyError, TypeError, IndexError):
                return _resolve_parts(context, parts)

        return two

    def many(context: Any) -> Any:
        node = context
        try:
            for part in parts:
                node = node[part]
        except (KeyError, TypeError, IndexError):
            return _resolve_parts(context, parts)
        return node

    return many


def _resolve_parts(node: Any, parts: list[str]) -> Any:
    """resolve() on a pre-split selector; dict steps inline, anything else via resolve()."""
    for position, part in enumerate(parts):
        if isinstance(node, dict):
            if part not in node:
                return _MISSING
            node = node[part]
        else:
            return resolve(node, ".".join(parts[position:]))
    return node


@dataclass
class Rule:
    """A validated rule, compiled once: selectors split, templates pre-parsed (hot path)."""

    spec: dict[str, Any]
    name: str = field(init=False)
    kind: str = field(init=False)

    def __post_init__(self):
        spec = self.spec
        self.name = spec["name"]
        self.kind = spec["source"]
        self.event_class = spec.get("class", TRANSACTIONAL)
        self._fields = []
        for name, how in spec["data"].items():
            how = {"selector": how} if isinstance(how, str) else how  # noqa: PLW2901
            if "const" in how:
                self._fields.append((name, None, None, True, how["const"]))
            else:
                selector = how["selector"]
                self._fields.append(
                    (
                        name,
                        _selector(selector.split(".")),
                        how.get("as"),
                        how.get("required", True),
                        selector,
                    )
                )
        self._subject = _compile_template(spec["subject"])
        self._correlation = (
            _compile_template(spec["correlationid"]) if spec.get("correlationid") else None
        )
        self._message_id = (
            _selector(spec["message_id"].split(".")) if spec.get("message_id") else None
        )
        self._time = _selector(spec["time"].split(".")) if spec.get("time") else None
        self._dataschema = f"urn:mfg:contract:{spec['type']}:{spec['version']}"

    def build(
        self,
        *,
        agent_source: str,
        context: dict[str, Any],
        origin: str,
        payload: bytes,
        discriminator: str,
        received_time: float,
        clock_quality: str | None,
    ) -> Event:
        spec = self.spec
        data = {}
        for name, get, kind, required, extra in self._fields:
            if get is None:
                data[name] = extra
                continue
            value = get(context)
            if value is _MISSING:
                if required:
                    raise RuleError("missing_field", f"{extra} is missing (field {name})")
                continue
            data[name] = _convert(value, kind, extra) if kind else value
        subject = self._subject(context)
        message_id = ""
        if self._message_id:
            found = self._message_id(context)
            if found is _MISSING:
                raise RuleError("missing_field", f"{spec['message_id']} (message id) is missing")
            message_id = str(found)
        source_time = received_time
        if self._time:
            found = self._time(context)
            if found is _MISSING:
                raise RuleError("missing_field", f"{spec['time']} (source time) is missing")
            source_time = parse_timestamp(found)
        identity = event_id(
            agent_source, spec["type"], origin, payload, discriminator + "|" + message_id
        )
        envelope = {
            "specversion": "1.0",
            "id": identity,
            "source": agent_source,
            "type": spec["type"],
            "dataschema": self._dataschema,
            "time": format_timestamp(source_time),
            "subject": subject,
            "datacontenttype": "application/json",
            "receivedtime": format_timestamp(received_time),
            "data": data,
        }
        if self._correlation:
            envelope["correlationid"] = self._correlation(context)
        if clock_quality:
            envelope["clockquality"] = clock_quality
        return Event(
            id=identity,
            type=spec["type"],
            subject=subject,
            event_class=self.event_class,
            envelope=envelope,
            source_time=source_time,
            received_time=received_time,
        )


class RuleSet:
    """The active rules, grouped by source kind."""

    def __init__(self, specs: list[dict[str, Any]]):
        self.specs = specs
        self.rules = [Rule(spec) for spec in specs]
        self._by_kind: dict[str, list[Rule]] = {}
        for rule in self.rules:
            self._by_kind.setdefault(rule.kind, []).append(rule)
        # Topic -> matching rules; a plant has few distinct topics, so this stays small.
        self._topic_cache: dict[str, list[Rule]] = {}

    def for_kind(self, kind: str) -> list[Rule]:
        return self._by_kind.get(kind, [])

    def mqtt_topics(self) -> list[str]:
        return sorted({rule.spec["topic"] for rule in self.for_kind("mqtt")})

    def match_topic(self, topic: str) -> list[Rule]:
        found = self._topic_cache.get(topic)
        if found is None:
            found = [r for r in self.for_kind("mqtt") if topic_matches(r.spec["topic"], topic)]
            if len(self._topic_cache) < 10000:
                self._topic_cache[topic] = found
        return found

    def match_csv(self, folder: str, header: list[str]) -> Rule | None:
        columns = set(header)
        for rule in self.for_kind("csv"):
            if rule.spec["folder"] == folder and set(rule.spec["columns"]) <= columns:
                return rule
        return None

    def csv_folders(self) -> list[str]:
        return sorted({rule.spec["folder"] for rule in self.for_kind("csv")})
