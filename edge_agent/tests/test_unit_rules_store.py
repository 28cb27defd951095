"""Rules, event ids, clock flags, backoff and the store, without any network."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfg_edge.clock import JUMPED, UNSYNCHRONISED, ClockWatch
from mfg_edge.rules import RuleError, RuleSet, event_id, topic_matches
from mfg_edge.sender import Backoff
from mfg_edge.store import Store

RULE = {
    "name": "done",
    "source": "mqtt",
    "topic": "plant1/+/mes/completed",
    "type": "mes.production.completed",
    "version": "1.1",
    "class": "transactional",
    "subject": "{payload.wo}",
    "message_id": "payload.id",
    "time": "payload.ts",
    "correlationid": "{payload.wo}",
    "data": {
        "production_ref": "payload.wo",
        "qty": {"selector": "payload.qty", "as": "number"},
        "line": "topic_segments.1",
        "uom": {"const": "Units"},
        "lot": {"selector": "payload.lot", "required": False},
    },
}


def _build(
    payload: dict, topic: str = "plant1/line2/mes/completed", received: float = 1_790_000_000.0
):
    raw = json.dumps(payload).encode()
    rule = RuleSet([RULE]).match_topic(topic)[0]
    return rule.build(
        agent_source="plant1/gw-01",
        context={"payload": payload, "topic": topic, "topic_segments": topic.split("/")},
        origin=topic,
        payload=raw,
        discriminator="",
        received_time=received,
        clock_quality=None,
    )


def test_rule_builds_the_canonical_envelope():
    event = _build({"wo": "WH/MO/00042", "qty": "25", "id": "m1", "ts": "2026-11-23T08:15:02.120Z"})
    envelope = event.envelope
    assert envelope["type"] == "mes.production.completed"
    assert envelope["dataschema"] == "urn:mfg:contract:mes.production.completed:1.1"
    assert envelope["time"] == "2026-11-23T08:15:02.120Z"
    assert envelope["subject"] == "WH/MO/00042"
    assert envelope["correlationid"] == "WH/MO/00042"
    assert envelope["data"] == {
        "production_ref": "WH/MO/00042",
        "qty": 25,
        "line": "line2",
        "uom": "Units",
    }
    assert envelope["receivedtime"].startswith("2026-")
    assert "sequence" not in envelope


def test_same_message_same_id_redelivery_and_different_message_different_id():
    payload = {"wo": "WH/MO/1", "qty": 1, "id": "m1", "ts": 1_790_000_000}
    first = _build(payload, received=1_790_000_001.0)
    again = _build(payload, received=1_790_000_999.0)  # a QoS 1 redelivery, received later
    assert first.id == again.id
    assert _build({**payload, "id": "m2"}).id != first.id
    assert _build(payload, topic="plant1/line3/mes/completed").id != first.id


def test_bad_messages_raise_rule_errors_with_codes():
    with pytest.raises(RuleError) as caught:
        _build({"qty": 1, "id": "m", "ts": 1})
    assert caught.value.code == "missing_field"
    with pytest.raises(RuleError) as caught:
        _build({"wo": "W", "qty": "lots", "id": "m", "ts": 1})
    assert caught.value.code == "bad_value"
    with pytest.raises(RuleError) as caught:
        _build({"wo": "W", "qty": 1, "id": "m", "ts": "yesterday"})
    assert caught.value.code == "bad_time"


def test_topic_filters():
    assert topic_matches("a/+/c", "a/b/c")
    assert not topic_matches("a/+/c", "a/b/d")
    assert topic_matches("a/#", "a/b/c/d")
    assert topic_matches("a/#", "a")
    assert not topic_matches("a/b", "a/b/c")


@given(st.binary(max_size=64), st.text(max_size=20))
def test_event_id_is_a_pure_function(payload, discriminator):
    assert event_id("s", "t.x.y", "o", payload, discriminator) == event_id(
        "s", "t.x.y", "o", payload, discriminator
    )


def test_clock_flags_unsynchronised_and_jumps_without_rewriting():
    wall = [100.0]  # 1970: an unsynchronised RTC after a reboot
    mono = [0.0]
    clock = ClockWatch(
        min_year=2020,
        jump_threshold_s=5,
        jump_flag_window_s=30,
        wall=lambda: wall[0],
        monotonic=lambda: mono[0],
    )
    now, flag = clock.quality()
    assert (now, flag) == (100.0, UNSYNCHRONISED)
    wall[0], mono[0] = 1_790_000_000.0, 1.0  # NTP stepped the clock
    now, flag = clock.quality()
    assert now == 1_790_000_000.0 and flag == JUMPED
    wall[0], mono[0] = 1_790_000_040.0, 41.0  # the flag window is over
    assert clock.quality()[1] is None
    assert clock.jumps == 1


def test_backoff_is_full_jitter_and_capped():
    backoff = Backoff(0.5, 8, rng=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    low = Backoff(0.5, 8, rng=lambda: 0.0)
    assert low.next_delay() == 0.0


def test_store_sequences_survive_reopen_and_ids_deduplicate(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = Store(path)
    first = _build({"wo": "W1", "qty": 1, "id": "a", "ts": 1_790_000_000})
    second = _build({"wo": "W1", "qty": 1, "id": "b", "ts": 1_790_000_000})
    assert store.insert([first, second]).inserted == 2
    assert store.insert([first]).duplicates == 1
    batch = store.next_batch(10)
    store.complete(batch[:1])
    assert store.insert([first]).duplicates == 1, "recently delivered ids are not queued again"
    store.close()
    reopened = Store(path)
    third = _build({"wo": "W1", "qty": 1, "id": "c", "ts": 1_790_000_000})
    reopened.insert([third])
    seqs = [e.seq for e in reopened.next_batch(10)]
    assert seqs == sorted(seqs) and seqs[-1] > batch[0].seq
    wire = json.loads(reopened.next_batch(10)[-1].wire_json())
    assert wire["sequence"] == f"{seqs[-1]:012d}"
    journal = reopened._db.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = reopened._db.execute("PRAGMA synchronous").fetchone()[0]
    assert journal == "wal" and synchronous == 2  # 2 = FULL
    reopened.close()
