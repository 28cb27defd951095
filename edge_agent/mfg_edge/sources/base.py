"""What every source shares: a message becomes events (or raw dead letters) in one place, and
goes to the ingestor, which commits it durably before the source acknowledges it.

MQTT, OPC-UA, CSV and `mfg-edge replay-dead` all call `message_to_events`; a source class
derives from `Source` for the ingestor hand-over."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import RuleError
from ..event import Event, RawDeadLetter
from ..ingest import Ingestor, Pending


def message_to_events(
    rules: list,
    *,
    kind: str,
    agent_source: str,
    context: dict[str, Any] | Callable[[Any], dict[str, Any]],
    origin: str,
    payload: bytes,
    received_time: float,
    clock_quality: str | None,
    discriminator: str | Callable[[dict[str, Any]], str] = "",
    dead_origin: str | None = None,
    dead_context: dict[str, Any] | None = None,
    reason_prefix: str = "",
    no_rule_reason: str | None = None,
) -> tuple[list[Event], list[RawDeadLetter]]:
    """Build the events of one source message, one per matching rule. A rule that cannot read
    the message leaves a raw dead letter instead (with the rule's name and why), and so does a
    message no rule matches when `no_rule_reason` is given: nothing is silently dropped.

    `context` and `discriminator` may depend on the rule (an OPC-UA rule's value map)."""
    events: list[Event] = []
    dead: list[RawDeadLetter] = []
    if not rules and no_rule_reason:
        dead.append(
            RawDeadLetter(
                kind,
                dead_origin or origin,
                payload,
                "no_rule",
                no_rule_reason,
                received_time,
                dict(dead_context or {}),
            )
        )
    for rule in rules:
        rule_context = context(rule) if callable(context) else context
        try:
            events.append(
                rule.build(
                    agent_source=agent_source,
                    context=rule_context,
                    origin=origin,
                    payload=payload,
                    discriminator=(
                        discriminator(rule_context) if callable(discriminator) else discriminator
                    ),
                    received_time=received_time,
                    clock_quality=clock_quality,
                )
            )
        except RuleError as exc:
            dead.append(
                RawDeadLetter(
                    kind,
                    dead_origin or origin,
                    payload,
                    exc.code,
                    f"{reason_prefix}rule {rule.name}: {exc}",
                    received_time,
                    dict(dead_context, rule=rule.name) if dead_context else {},
                )
            )
    return events, dead


class Source:
    """A source of messages: its kind (the metrics label and the dead letters' kind), the agent
    it belongs to, and the hand-over to the ingestor."""

    kind = "other"

    def __init__(self, ingestor: Ingestor, clock, metrics, agent_source: str):
        self.ingestor = ingestor
        self.clock = clock
        self.metrics = metrics
        self.agent_source = agent_source

    def submit(
        self,
        events: list[Event],
        dead: list[RawDeadLetter],
        ack: Callable[[], None] | None = None,
        arrived: float | None = None,
        messages: int = 1,
    ) -> bool:
        """Hand a message's events to the ingestor; `ack` runs once they are durable. False once
        the agent stops (then nothing was taken: the message stays at its source)."""
        return self.ingestor.submit(
            Pending(
                events,
                dead,
                ack,
                time.monotonic() if arrived is None else arrived,
                self.kind,
                messages,
            )
        )
