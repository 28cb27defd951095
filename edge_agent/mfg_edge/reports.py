"""The agent's own reports, built like every other event (event.build_envelope): the heartbeat
(about the agent, sent alone and never stored) and the day summary (what it sent on a UTC day,
stored and sent like a transactional event)."""

from __future__ import annotations

import uuid
from typing import Any

from . import __version__
from .codec import format_timestamp
from .event import EVENT_NAMESPACE, TRANSACTIONAL, Event, build_envelope

HEARTBEAT_TYPE = "edge.heartbeat"
SUMMARY_TYPE = "integration.sent.summary"


def heartbeat_envelope(
    source: str,
    sequence: int,
    now: float,
    stats: dict[str, Any],
    started_at: float,
    clock_synchronised: bool,
    clock_quality: str | None,
) -> dict[str, Any]:
    """The edge.heartbeat envelope: backlog, dead letters and clock state of the agent."""
    return build_envelope(
        event_id=str(uuid.uuid5(EVENT_NAMESPACE, f"{source}|{HEARTBEAT_TYPE}|{sequence}")),
        source=source,
        type=HEARTBEAT_TYPE,
        version="1.0",
        time=now,
        subject=f"heartbeat/{source}",
        sequence=sequence,
        clock_quality=clock_quality,
        data={
            "agent_version": __version__,
            "backlog": stats["backlog"],
            "oldest_event_age_s": stats["oldest_event_age_s"],
            "dead_letters": stats["dead_letters"],
            "uptime_s": round(now - started_at, 3),
            "clock_synchronised": clock_synchronised,
            "last_send_ok": (
                format_timestamp(stats["last_send_ok"]) if stats["last_send_ok"] else None
            ),
        },
    )


def summary_event(
    source: str, day: str, revision: int, counts: list[dict[str, Any]], now: float
) -> Event:
    """The integration.sent.summary of a day (revision > 1: the count grew after a report);
    its id is fixed per day and revision, so a replay of it is a duplicate."""
    key = f"{source}|{SUMMARY_TYPE}|{day}" + (f"|{revision}" if revision > 1 else "")
    identity = str(uuid.uuid5(EVENT_NAMESPACE, key))
    subject = f"summary/{day}"
    envelope = build_envelope(
        event_id=identity,
        source=source,
        type=SUMMARY_TYPE,
        version="1.0",
        time=now,
        subject=subject,
        data={"day": day, "counts": counts},
    )
    return Event(
        id=identity,
        type=SUMMARY_TYPE,
        subject=subject,
        event_class=TRANSACTIONAL,
        envelope=envelope,
        source_time=now,
        received_time=now,
    )
