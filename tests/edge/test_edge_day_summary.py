"""The agent's day accounting across midnight UTC, with a controlled clock (never the calendar).

The store, the sender and the stand-in receiver are real (HTTP on 127.0.0.1); only the wall
clock that decides which days are finished is the test's. The test states the day it needs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mfg_edge.metrics import Metrics
from mfg_edge.rules import RuleSet
from mfg_edge.sender import Sender
from mfg_edge.store import Store

DAY = datetime(2027, 3, 27, tzinfo=UTC)  # any day will do: the clock below is the test's
RULE = {
    "name": "done",
    "source": "mqtt",
    "topic": "plant1/+/mes/completed",
    "type": "mes.production.completed",
    "version": "1.0",
    "subject": "{payload.wo}",
    "message_id": "payload.id",
    "time": "payload.ts",
    "data": {"production_ref": "payload.wo", "n": "payload.n"},
}


class Clock:
    def __init__(self, moment: datetime):
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.timestamp()


class _NoClockFlags:
    """The sender's heartbeat asks the clock watch for its quality; not used here."""

    def quality(self):
        return 0.0, None

    def synchronised(self):
        return True


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _events(tag: str, source_moment: datetime, received: datetime, count: int):
    rule = RuleSet([RULE]).match_topic("plant1/line1/mes/completed")[0]
    built = []
    for n in range(count):
        payload = {"wo": f"WH/MO/{n % 3:05d}", "id": f"{tag}-{n}", "ts": _stamp(source_moment)}
        payload["n"] = f"{tag}-{n}"
        built.append(
            rule.build(
                agent_source="plant1/gw-clock",
                context={"payload": payload, "topic": "plant1/line1/mes/completed"},
                origin="plant1/line1/mes/completed",
                payload=json.dumps(payload).encode(),
                discriminator="",
                received_time=received.timestamp(),
                clock_quality=None,
            )
        )
    return built


@pytest.fixture
def agent_parts(tmp_path, receiver):
    clock = Clock(DAY.replace(hour=23, minute=59, second=50))
    store = Store(tmp_path / "events.sqlite3")
    sender = Sender(
        store=store,
        url=receiver.url,
        api_key=receiver.api_key,
        source="plant1/gw-clock",
        metrics=Metrics(),
        clock=_NoClockFlags(),
        linger_ms=0,
        backoff_base_s=0.01,
        backoff_max_s=0.01,
        wall=clock,
    )
    yield clock, store, sender
    store.close()


def _drain(sender: Sender, store: Store) -> None:
    """Send until the store is empty (the sender's own step, called here, not on its thread)."""
    for _ in range(100):
        if store.count == 0:
            return
        sender._not_before = 0.0
        sender._step()
    raise AssertionError(f"{store.count} events still queued")


def test_late_events_of_a_finished_day_revise_its_summary(agent_parts, receiver):
    clock, store, sender = agent_parts
    day, next_day = DAY.strftime("%Y-%m-%d"), (DAY + timedelta(days=1)).strftime("%Y-%m-%d")
    evening = DAY.replace(hour=23, minute=59, second=40)

    # Day D, before midnight: D is not finished, so nothing is reported yet.
    store.insert(_events("d", evening, evening, 5))
    _drain(sender, store)
    assert sender.emit_due_summaries() == []

    # D+1 has started; events of D are still arriving (the broker's queue after a gateway
    # restart over midnight), with events of D+1. While D's events wait, D is not reported.
    clock.set(DAY + timedelta(days=1, seconds=5))
    late = DAY.replace(hour=23, minute=59, second=58)
    store.insert(_events("late", late, DAY + timedelta(days=1, seconds=2), 3))
    store.insert(_events("d1", DAY + timedelta(days=1, seconds=1), DAY + timedelta(days=1), 4))
    assert sender.emit_due_summaries() == [], "D has events waiting: its report waits too"
    _drain(sender, store)
    assert sender.emit_due_summaries() == [day]
    _drain(sender, store)
    assert receiver.day_summaries() == {day: 8}, "D+1 is not finished: not reported"

    # An hour later a CSV file of D's last shift comes in: D's count grows, a revision follows
    # once those events are sent, and the newest report equals what the receiver applied.
    clock.set(DAY + timedelta(days=1, hours=1))
    store.insert(_events("csv", DAY.replace(hour=22), DAY + timedelta(days=1, hours=1), 6))
    assert sender.emit_due_summaries() == [], "the revision waits until the late events are sent"
    _drain(sender, store)
    assert sender.emit_due_summaries() == [day]
    _drain(sender, store)
    assert receiver.day_summaries() == {day: 14}
    assert receiver.applied_per_day() == {day: 14, next_day: 4}
    assert sender.emit_due_summaries() == [], "up to date: no further revision"

    # D+2: D+1 is reported in its turn.
    clock.set(DAY + timedelta(days=2, minutes=1))
    assert sender.emit_due_summaries() == [next_day]
    _drain(sender, store)
    assert receiver.day_summaries() == receiver.applied_per_day() == {day: 14, next_day: 4}
    revisions = sorted(
        (e["data"]["day"], e["id"]) for e in receiver.summaries.values() if e["data"]["day"] == day
    )
    assert len(revisions) == 2 and revisions[0][1] != revisions[1][1]


def test_an_outage_over_midnight_still_reports_the_day_a_day_later(agent_parts, receiver):
    """Odoo down: D's report waits for D's backlog, but not forever: a day after D ended it is
    queued anyway (behind the backlog), and corrected once the backlog is sent."""
    clock, store, sender = agent_parts
    day = DAY.strftime("%Y-%m-%d")
    noon = DAY.replace(hour=12)
    store.insert(_events("sent", noon, noon, 2))
    _drain(sender, store)
    receiver.stop()  # Odoo goes down
    store.insert(_events("stuck", noon, noon, 3))
    clock.set(DAY + timedelta(days=1, hours=23))
    assert sender.emit_due_summaries() == [], "D's events are waiting, and D ended < 24 h ago"
    clock.set(DAY + timedelta(days=2, minutes=1))
    assert sender.emit_due_summaries() == [day], "a day after D ended it is reported anyway"
    receiver.start()  # Odoo is back on the same port
    _drain(sender, store)
    assert receiver.day_summaries() == {day: 2}, "the first report counted what was sent then"
    assert sender.emit_due_summaries() == [day], "the backlog's events revise the report"
    _drain(sender, store)
    assert receiver.day_summaries() == {day: 5}
    assert receiver.applied_per_day() == {day: 5}
