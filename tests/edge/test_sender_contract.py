"""The sender against the local receiver, in process: 429, 413, 400, 401, 5xx, heartbeat."""

from __future__ import annotations

import json
import time

import pytest
from edge_receiver import Receiver

from mfg_edge.clock import ClockWatch
from mfg_edge.codec import format_timestamp
from mfg_edge.event import Event
from mfg_edge.metrics import Metrics
from mfg_edge.sender import Sender
from mfg_edge.store import Store


def _event(n: int, subject: str = "WH/MO/00001", source_time: float | None = None) -> Event:
    source_time = source_time or time.time()
    envelope = {
        "specversion": "1.0",
        "id": f"00000000-0000-5000-8000-{n:012d}",
        "source": "plant1/gw-t",
        "type": "mes.production.completed",
        "dataschema": "urn:mfg:contract:mes.production.completed:1.0",
        "time": format_timestamp(source_time),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": {"n": n, "qty": 1},
    }
    return Event(
        envelope["id"],
        envelope["type"],
        subject,
        "transactional",
        envelope,
        source_time,
        source_time,
    )


def _sender(store: Store, receiver: Receiver, metrics: Metrics, api_key: str = "test-key"):
    return Sender(
        store=store,
        url=receiver.url,
        api_key=api_key,
        source="plant1/gw-t",
        metrics=metrics,
        clock=ClockWatch(),
        batch_size=50,
        linger_ms=0,
        timeout_s=2,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
        auth_retry_s=900,
    )


@pytest.fixture
def parts(tmp_path, receiver: Receiver):
    metrics = Metrics()
    store = Store(tmp_path / "events.sqlite3", metrics=metrics)
    sender = _sender(store, receiver, metrics)
    yield store, sender, metrics
    store.close()


def _drain(sender: Sender, steps: int = 200) -> None:
    for _ in range(steps):
        if not sender.store.next_batch(1):
            return
        wait = sender._step()
        if wait > 0:
            time.sleep(min(wait, 0.3))
            sender._not_before = 0.0


def test_429_retry_after_is_honoured(parts, receiver):
    store, sender, metrics = parts
    store.insert([_event(n) for n in range(10)])
    receiver.mode = "429"
    receiver.retry_after_s = 3
    wait = sender._step()
    assert wait >= 3.0, "the sender waits at least Retry-After"
    assert store.count == 10
    receiver.mode = None
    sender._not_before = 0.0
    _drain(sender)
    assert receiver.applied_count() == 10 and store.count == 0
    # Every POST is timed, the refused one too (no heartbeat was due: none posted).
    assert metrics.value("mfg_edge_send_duration_seconds_count") == receiver.requests


@pytest.mark.parametrize("retry_after", ["inf", "1e12", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_waits_only_the_configured_maximum(tmp_path, receiver, retry_after):
    metrics = Metrics()
    store = Store(tmp_path / "events.sqlite3", metrics=metrics)
    sender = _sender(store, receiver, metrics)
    sender.retry_after_max_s = 2.0
    store.insert([_event(n) for n in range(3)])
    receiver.mode = "429"
    receiver.retry_after_s = retry_after
    wait = sender._step()
    assert 2.0 <= wait <= 2.0 + 0.2, "bounded by retry_after_max_s (plus at most the backoff)"
    receiver.mode = None
    sender._not_before = 0.0
    _drain(sender)
    assert receiver.applied_count() == 3 and store.count == 0
    store.close()


def test_413_splits_the_batch_and_remembers_the_size(parts, receiver):
    store, sender, _ = parts
    store.insert([_event(n, subject=f"S{n % 3}") for n in range(50)])
    receiver.max_events = 7
    _drain(sender)
    assert receiver.applied_count() == 50
    assert max(receiver.batch_sizes) <= 7
    assert sender.batch_limit <= 7
    assert receiver.out_of_order_subjects() == []


def test_single_event_413_and_400_go_to_dead_letters(parts, receiver):
    store, sender, _ = parts
    store.insert([_event(n) for n in range(4)])
    original = receiver.handle_post

    def malformed_if_n2(path, authorization, content_type, body):
        events = json.loads(body)["events"]
        if any(e["data"].get("n") == 2 for e in events):
            return 400, {"error": {"code": "malformed", "message": "n=2 is malformed"}}, {}
        return original(path, authorization, content_type, body)

    receiver.handle_post = malformed_if_n2
    _drain(sender)
    assert receiver.applied_count() == 3
    dead = store.dead_letters()
    assert [d["reason_code"] for d in dead] == ["malformed"]
    assert json.loads(dead[0]["body"])["data"]["n"] == 2
    assert dead[0]["http_status"] == 400


def test_5xx_and_connection_errors_retry_without_loss(parts, receiver):
    store, sender, metrics = parts
    store.insert([_event(n) for n in range(20)])
    receiver.mode = "500"
    for _ in range(3):
        assert sender._step() >= 0
        sender._not_before = 0.0
    assert store.count == 20 and sender.state == "retrying"
    receiver.stop()
    assert sender._step() >= 0
    assert store.count == 20
    assert metrics.value("mfg_edge_send_errors_total", reason="connection") == 1
    receiver.start()
    receiver.mode = None
    sender._not_before = 0.0
    _drain(sender)
    assert receiver.applied_count() == 20 and store.count == 0
    assert store.stats()["last_send_ok"] is not None


def test_401_stops_and_alerts_until_reload(parts, receiver):
    store, sender, metrics = parts
    store.insert([_event(n) for n in range(5)])
    receiver.mode = "401"
    wait = sender._step()
    assert wait == 900, "a refused key pauses for auth_retry_s, it does not hammer Odoo"
    assert sender.state == "auth_failed"
    stats = store.stats()
    assert stats["sender_state"] == "auth_failed" and stats["auth_blocked_until"] > time.time()
    assert metrics.value("mfg_edge_auth_failures_total") == 1
    assert metrics.value("mfg_edge_sender_blocked") == 1
    assert receiver.requests == 1
    assert sender._step() > 800 and receiver.requests == 1
    receiver.mode = None
    sender.reload("test-key")
    _drain(sender)
    assert receiver.applied_count() == 5 and sender.state == "ok"


def test_restart_keeps_the_stop_for_the_refused_key_but_not_for_a_new_one(parts, receiver):
    store, sender, metrics = parts
    store.insert([_event(n) for n in range(3)])
    receiver.mode = "401"
    assert sender._step() == 900 and sender.state == "auth_failed"

    assert (
        _sender(store, receiver, metrics, "test-key").state == "auth_failed"
    ), "same refused key: no hammering"
    receiver.mode = None
    receiver.api_key = "a-new-key"  # the operator issued a new key in Odoo
    fixed = _sender(store, receiver, metrics, "a-new-key")
    assert fixed.state != "auth_failed", "a replaced key is tried at once"
    _drain(fixed)
    assert receiver.applied_count() == 3


def test_heartbeat_bypasses_the_backlog(parts, receiver):
    store, sender, _ = parts
    store.insert([_event(n) for n in range(30)])
    receiver.mode = None
    assert sender.send_heartbeat()
    assert receiver.applied_count() == 0, "the heartbeat went alone, ahead of the backlog"
    beat = receiver.heartbeats[0]
    assert beat["type"] == "edge.heartbeat"
    assert beat["dataschema"] == "urn:mfg:contract:edge.heartbeat:1.0"
    assert beat["subject"] == "heartbeat/plant1/gw-t"
    data = beat["data"]
    assert data["backlog"] == 30 and data["dead_letters"] == 0
    assert set(data) == {
        "agent_version",
        "backlog",
        "oldest_event_age_s",
        "dead_letters",
        "uptime_s",
        "clock_synchronised",
        "last_send_ok",
    }
    assert store.count == 30, "heartbeats are not stored"


def _summary_counts(sender, receiver) -> list[dict]:
    emitted = sender.emit_due_summaries()
    assert len(emitted) == 1
    assert sender.emit_due_summaries() == [], "once per day"
    _drain(sender)
    summaries = list(receiver.summaries.values())
    assert len(summaries) == 1
    assert summaries[0]["subject"] == f"summary/{emitted[0]}"
    assert summaries[0]["data"]["day"] == emitted[0]
    return summaries[0]["data"]["counts"]


def test_daily_summary_counts_each_event_once_across_replays(parts, receiver):
    """A source's replay of events delivered before (MQTT redelivery after a crash, a CSV file
    read again) is queued under new sequences and sent again: the receiver answers duplicate
    naming the sequence it holds, and the summary does not count them twice."""
    store, sender, metrics = parts
    yesterday = time.time() - 86400
    store.insert([_event(n, source_time=yesterday) for n in range(6)])
    _drain(sender)
    assert store.insert([_event(n, source_time=yesterday) for n in range(4)]).inserted == 4
    _drain(sender)
    assert store.count == 0 and receiver.duplicates == 4 and receiver.applied_count() == 6
    assert metrics.value("mfg_edge_events_redelivered_total") == 4
    assert _summary_counts(sender, receiver) == [{"type": "mes.production.completed", "count": 6}]


@pytest.mark.parametrize("echo_sequence", [True, False])
def test_daily_summary_counts_an_attempt_whose_answer_was_lost(parts, receiver, echo_sequence):
    """The receiver applied a batch but its answer was lost (504 from a proxy): the retry is
    answered duplicate and those events are counted then, once. With a receiver that does not
    name the sequence it holds, the sender remembers which of its attempts went unanswered."""
    store, sender, metrics = parts
    receiver.echo_sequence = echo_sequence
    yesterday = time.time() - 86400
    store.insert([_event(n, source_time=yesterday) for n in range(5)])
    receiver.mode = "lose_answers"
    assert sender._step() > 0 and store.count == 5 and receiver.applied_count() == 5
    receiver.mode = None
    _drain(sender)
    assert store.count == 0 and receiver.duplicates == 5
    assert metrics.value("mfg_edge_events_redelivered_total") == 0
    assert _summary_counts(sender, receiver) == [{"type": "mes.production.completed", "count": 5}]


def test_answer_lost_and_agent_restarted_is_still_counted_once(tmp_path, receiver):
    """The answer to an applied batch is lost and the agent restarts before retrying: the
    new process knows nothing of the attempt, but the receiver's duplicate answer carries the
    row's own sequence, so the events are counted (and a replay of them would not be)."""
    metrics = Metrics()
    path = tmp_path / "events.sqlite3"
    store = Store(path, metrics=metrics)
    yesterday = time.time() - 86400
    store.insert([_event(n, source_time=yesterday) for n in range(3)])
    receiver.mode = "lose_answers"
    assert _sender(store, receiver, metrics)._step() > 0
    store.close()
    receiver.mode = None
    store = Store(path, metrics=metrics)
    try:
        sender = _sender(store, receiver, metrics)
        _drain(sender)
        assert store.count == 0
        assert _summary_counts(sender, receiver) == [
            {"type": "mes.production.completed", "count": 3}
        ]
    finally:
        store.close()


def test_late_events_of_a_reported_day_send_a_revised_summary(parts, receiver):
    """Events of a day that come after its report (an agent down over midnight, a CSV file of
    yesterday's rows) make a revision, queued once they are sent; Odoo keeps the newest."""
    store, sender, _ = parts
    yesterday = time.time() - 86400
    store.insert([_event(n, source_time=yesterday) for n in range(6)])
    _drain(sender)
    assert _summary_counts(sender, receiver) == [{"type": "mes.production.completed", "count": 6}]
    store.insert([_event(n, source_time=yesterday) for n in range(6, 9)])
    assert sender.emit_due_summaries() == [], "the revision waits for the late events"
    _drain(sender)
    day = sender.emit_due_summaries()
    assert len(day) == 1 and sender.emit_due_summaries() == []
    _drain(sender)
    summaries = sorted(
        receiver.summaries.values(),
        key=lambda e: e["sequence"],
    )
    assert [s["data"]["counts"][0]["count"] for s in summaries] == [6, 9]
    assert len({s["id"] for s in summaries}) == 2 and summaries[1]["subject"] == f"summary/{day[0]}"
    # A replay of already delivered events changes no count: no third report.
    store.insert([_event(n, source_time=yesterday) for n in range(3)])
    _drain(sender)
    assert sender.emit_due_summaries() == []


def test_sequence_is_zero_padded_and_increasing(parts, receiver):
    store, sender, _ = parts
    store.insert([_event(n) for n in range(5)])
    _drain(sender)
    sequences = [e["sequence"] for e in receiver.order["WH/MO/00001"]]
    assert all(len(s) == 12 and s.isdigit() for s in sequences)
    assert sequences == sorted(sequences) and len(set(sequences)) == 5


def test_partial_batch_lingers_briefly_full_batch_goes_at_once(parts, receiver):
    store, sender, _ = parts
    sender.linger_s = 0.2
    store.insert([_event(n) for n in range(10)])
    wait = sender._step()
    assert 0 < wait <= 0.2 and receiver.requests == 0, "10 young events wait for company"
    store.insert([_event(n) for n in range(10, 60)])
    assert sender._step() == 0.0 and receiver.applied_count() == 50, "a full batch goes now"
    time.sleep(0.25)
    assert sender._step() == 0.0 and receiver.applied_count() == 60, "stragglers go after linger"
