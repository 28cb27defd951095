"""The backlog's drain rate and when it will be empty, from the store's per-minute flow, with a
controlled wall clock; and `mfg-edge status` showing them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import yaml
from test_unit_config import GOOD
from test_unit_rules_store import _events

from mfg_edge import cli
from mfg_edge.store import FLOW_KEEP_MINUTES, Store

# 2026-03-01T12:00:00Z, a whole minute: the test never depends on today's date or time.
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


class Wall:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _store_draining(path, wall: Wall) -> Store:
    """600 events stored at T0, then 100 sent at the start of each of the next five minutes."""
    store = Store(path, wall=wall)
    store.insert(_events(600, "d"))
    for minute in range(1, 6):
        store.complete(store.next_batch(100), now=T0 + 60 * minute)
    return store


def test_drain_rate_and_the_time_to_empty_follow_the_last_five_minutes(tmp_path):
    wall = Wall(T0)
    store = _store_draining(tmp_path / "s.sqlite3", wall)
    assert store.count == 100
    # At T0+4 min the window (T0-1 min .. now) holds the 600 stored: more in than out.
    early = store.drain(store.count, now=T0 + 240)
    assert early["stored_per_s"] == 2.0 and early["sent_per_s"] == round(500 / 300, 3)
    assert early["empty_in_s"] is None
    # At T0+6 min the window (T0+1 .. T0+6 min) holds 500 sent and nothing stored: 100 events
    # left at 500/300 events/s is 60 s.
    late = store.drain(store.count, now=T0 + 360)
    assert late["sent_per_s"] == round(500 / 300, 3) and late["stored_per_s"] == 0
    assert late["empty_in_s"] == 60.0
    # Nothing in the window at all: not draining; an empty backlog is empty now.
    assert store.drain(store.count, now=T0 + 3600)["empty_in_s"] is None
    assert store.drain(0, now=T0 + 3600)["empty_in_s"] == 0.0
    store.close()


def test_flow_rows_older_than_an_hour_are_dropped(tmp_path):
    wall = Wall(T0)
    store = _store_draining(tmp_path / "s.sqlite3", wall)
    wall.now = T0 + 3 * 3600
    store.insert(_events(3, "late"))
    minutes = [row[0] for row in store._db.execute("SELECT minute FROM flow_minutes")]
    assert minutes == [int(wall.now // 60)]
    assert min(minutes) >= int(wall.now // 60) - FLOW_KEEP_MINUTES
    store.close()


def _config(tmp_path) -> str:
    document = json.loads(json.dumps(GOOD))
    document["agent"]["data_dir"] = str(tmp_path / "data")
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


def test_status_shows_the_drain_rate_and_when_the_backlog_will_be_empty(
    tmp_path, capsys, monkeypatch
):
    config = _config(tmp_path)
    store = _store_draining(tmp_path / "data" / "events.sqlite3", Wall(T0))
    store.close()
    monkeypatch.setattr(cli, "wall_clock", lambda: T0 + 360)
    assert cli.main(["status", "-c", config]) == 0
    out = capsys.readouterr().out
    assert "drain rate           1.7 events/s sent, 0.0 events/s stored (last 5 min)" in out
    assert "backlog empty        in about 60 s (2026-03-01T12:07:00Z)" in out
    assert cli.main(["status", "-c", config, "--json"]) == 0
    drain = json.loads(capsys.readouterr().out)["drain"]
    assert drain == {"window_s": 300, "sent_per_s": 1.667, "stored_per_s": 0.0, "empty_in_s": 60.0}
    monkeypatch.setattr(cli, "wall_clock", lambda: T0 + 240)
    assert cli.main(["status", "-c", config]) == 0
    assert "backlog empty        not draining" in capsys.readouterr().out


def test_status_of_a_store_without_flow_figures_says_unknown(tmp_path, capsys, monkeypatch):
    config = _config(tmp_path)
    store = Store(tmp_path / "data" / "events.sqlite3")
    store.insert(_events(5, "old"))
    store._db.execute("DROP TABLE flow_minutes")  # a store an older agent wrote
    store.close()
    monkeypatch.setattr(cli, "wall_clock", lambda: T0)
    assert cli.main(["status", "-c", config]) == 0
    out = capsys.readouterr().out
    assert "drain rate           unknown" in out and "not draining" in out
