"""replay-dead: mark dead letters for the running agent to re-queue, re-normalising raw ones."""

from __future__ import annotations

import base64
import json
import time

from .clock import ClockWatch
from .config import Config
from .errors import RuleError
from .rules import RuleSet
from .rules_sync import resolve_rules
from .sources.base import message_to_events
from .store import Store


def _renormalise(rules: RuleSet, config: Config, body: dict) -> str:
    """Run a raw message through the current rules again; the envelope, or RuleError."""
    payload_bytes = base64.b64decode(body["payload_b64"])
    if body["kind"] != "mqtt":
        raise RuleError("not_replayable", f"raw {body['kind']} messages are replayed at the source")
    topic = body["origin"]
    try:
        payload = json.loads(payload_bytes)
    except ValueError as exc:
        raise RuleError("invalid_json", f"payload is still not JSON: {exc}") from None
    matching = rules.match_topic(topic)
    if not matching:
        raise RuleError("no_rule", f"still no rule matches topic {topic}")
    wanted = body.get("context", {}).get("rule")
    rule = next((r for r in matching if r.name == wanted), matching[0])
    now, quality = ClockWatch(**config.agent["clock"]).quality()
    events, dead = message_to_events(
        [rule],
        kind="mqtt",
        agent_source=config.source,
        context={"payload": payload, "topic": topic, "topic_segments": topic.split("/")},
        origin=topic,
        payload=payload_bytes,
        received_time=now,
        clock_quality=quality,
    )
    if dead:
        raise RuleError(dead[0].reason_code, dead[0].reason)
    return events[0].envelope_json()


def replay_dead(config: Config, ids: list[str] | None = None, reason: str | None = None) -> dict:
    store = Store(config.store_path)
    try:
        rows = store.select_dead_letters(ids)
        if reason:
            rows = [row for row in rows if row["reason_code"] == reason]
        rules = None
        requested, still_failing, details = 0, 0, []
        for row in rows:
            if row["kind"] == "raw":
                if rules is None:
                    rules = RuleSet(resolve_rules(config, None, allow_network=False)[0])
                try:
                    envelope = _renormalise(rules, config, json.loads(row["body"]))
                except RuleError as exc:
                    store.update_dead_reason(row["id"], exc.code, str(exc))
                    still_failing += 1
                    details.append(f"{row['id']}: {exc.code}: {exc}")
                    continue
                store.request_replay(row["id"], envelope)
            else:
                store.request_replay(row["id"])
            requested += 1
        return {
            "requested": requested,
            "still_failing": still_failing,
            "details": details,
            "at": time.time(),
        }
    finally:
        store.close()
