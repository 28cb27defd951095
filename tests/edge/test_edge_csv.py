"""(f) CSV drop folder: crash (kill -9) mid-file -> re-read from the start without duplicates."""

from __future__ import annotations

import sqlite3
import time

from edge_harness import AgentProcess, agent_config, status


def _csv_rule(folder) -> dict:
    return {
        "name": "csv-production",
        "source": "csv",
        "folder": str(folder),
        "columns": ["work_order", "qty", "uom"],
        "type": "mes.production.completed",
        "version": "1.0",
        "subject": "{row.work_order}",
        "data": {
            "production_ref": "row.work_order",
            "qty": {"selector": "row.qty", "as": "number"},
            "uom": "row.uom",
            "n": {"selector": "row.n", "as": "integer"},
        },
    }


def test_crash_mid_file_reprocesses_without_duplicates(tmp_path, receiver):
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = 20000
    config = agent_config(
        tmp_path,
        receiver_url=receiver.url,
        broker_port=None,
        rules=[_csv_rule(drop)],
        csv={"settle_ms": 200, "poll_interval_ms": 50, "rows_per_commit": 20},
    )
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    time.sleep(1.5)
    lines = ["work_order,qty,uom,n"] + [
        f"WH/MO/{n % 40:05d},{n % 9 + 1},Units,{n}" for n in range(rows)
    ]
    temporary = drop / ".production.csv.part"
    temporary.write_text("\n".join(lines) + "\n")
    temporary.rename(drop / "production.csv")  # the rename-in convention: complete on arrival
    (drop / "production.csv.done").touch()
    database = tmp_path / "data" / "events.sqlite3"
    deadline = time.monotonic() + 30
    stored = 0
    while time.monotonic() < deadline:
        if database.exists():
            try:
                with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as db:
                    stored = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
        if stored > 0 or receiver.applied_count() > 0:
            break
        time.sleep(0.002)
    agent.kill9()
    assert (drop / "production.csv").exists(), "the agent died in the middle of the file"
    assert receiver.applied_count() < rows
    agent.start()
    try:
        assert receiver.wait_for(rows, 120), f"applied {receiver.applied_count()}"
        time.sleep(1.0)
        current = status(config)
    finally:
        agent.stop()
    assert receiver.applied_count() == rows
    assert sorted(e["data"]["n"] for e in receiver.envelopes.values()) == list(range(rows))
    assert (drop / "processed" / "production.csv").exists()
    assert not (drop / "production.csv.done").exists()
    assert current["backlog"] == 0 and current["dead_letters"] == 0


def test_unusable_file_goes_to_failed_with_a_reason_and_bad_rows_are_dead_letters(
    tmp_path, receiver
):
    drop = tmp_path / "drop"
    drop.mkdir()
    config = agent_config(
        tmp_path,
        receiver_url=receiver.url,
        broker_port=None,
        rules=[_csv_rule(drop)],
        csv={"settle_ms": 300, "poll_interval_ms": 50},
    )
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        (drop / "other.csv").write_text("sku,count\nA,1\n")
        (drop / "mixed.csv").write_text(
            "work_order,qty,uom,n\nWH/MO/00001,2,Units,1\nWH/MO/00002,many,Units,2\nWH/MO/00003,3\n"
        )
        (drop / "writing.csv.part").write_text("work_order,qty,uom,n\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (drop / "processed" / "mixed.csv").exists():
            time.sleep(0.1)
        assert receiver.wait_for(1, 20)
        time.sleep(1.0)
        current = status(config)
    finally:
        agent.stop()
    reason = (drop / "failed" / "other.csv.reason.txt").read_text()
    assert "no rule for columns ['sku', 'count']" in reason
    assert (drop / "writing.csv.part").exists(), "files still being written are left alone"
    assert receiver.applied_count() == 1
    assert current["dead_letters"] == 2
