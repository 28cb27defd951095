"""Rules: turn a source message (MQTT payload, OPC-UA value, CSV row) into a canonical event.

A rule names a contract type and version, the subject (ordering key) and how each data field
is read from the message context. The id of the event is derived from the message's identity,
so the same source message always yields the same id (replays are duplicates, not new events).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .codec import parse_timestamp
from .errors import RuleError
from .event import TRANSACTIONAL, Event, build_envelope, event_id
from .topics import topic_matches

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_MISSING = object()


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
        envelope = build_envelope(
            event_id=identity,
            source=agent_source,
            type=spec["type"],
            version=spec["version"],
            time=source_time,
            subject=subject,
            data=data,
            received_time=received_time,
            correlation_id=self._correlation(context) if self._correlation else None,
            clock_quality=clock_quality,
        )
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
