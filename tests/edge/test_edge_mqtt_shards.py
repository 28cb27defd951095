"""MQTT shards (`mqtt.shards`): one child process per shard, the agent the single store writer.

kill -9 of the agent during a stream: the shard processes die with it (nothing acknowledged after
the kill), the broker redelivers, and the receiver still gets every message exactly once, each
subject in publish order.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

from edge_harness import (
    AgentProcess,
    Publisher,
    agent_config,
    previous_utc_day,
    prime_session,
    utc_stamp,
)

from mfg_edge.sources.mqtt_shards import shard_client_id

EVENTS = int(os.environ.get("MFG_EDGE_SHARD_KILL_EVENTS", "6000"))
KILLS = int(os.environ.get("MFG_EDGE_SHARD_KILLS", "10"))
LINES = 3
SHARDS = [["plant1/line0/#", "plant1/line1/#"], ["plant1/line2/#"]]


def line_rule(line: int) -> dict:
    return {
        "name": f"completed-line{line}",
        "source": "mqtt",
        "topic": f"plant1/line{line}/mes/completed",
        "type": "mes.production.completed",
        "version": "1.0",
        "subject": "{payload.work_order}",
        "message_id": "payload.msg_id",
        "time": "payload.ts",
        "data": {"production_ref": "payload.work_order", "n": "payload.n"},
    }


def shard_children(pid: int) -> set[int]:
    """The agent's shard processes (not multiprocessing's resource tracker)."""
    children = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    shards = set()
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                shards.add(child)
        except OSError:
            continue
    return shards


def wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        for pid in list(alive):
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                state = "gone"
            if state in ("gone", "Z", "X"):
                alive.discard(pid)
        time.sleep(0.05)
    return alive


def prime_shard_sessions(port: int, base_id: str) -> None:
    """The shards' sessions exist before anything is published (as after a first start):
    a message published while no session is subscribed is not kept by any broker."""
    prime_session(
        port,
        shard_client_id(base_id, 0),
        ["plant1/line0/mes/completed", "plant1/line1/mes/completed"],
    )
    prime_session(port, shard_client_id(base_id, 1), ["plant1/line2/mes/completed"])


def start_sharded_agent(tmp_path, broker, receiver, base_id: str) -> AgentProcess:
    config = agent_config(
        tmp_path,
        receiver_url=receiver.url,
        broker_port=broker.port,
        rules=[line_rule(line) for line in range(LINES)],
        client_id=base_id,
        mqtt={"shards": [{"topics": filters} for filters in SHARDS], "backoff_max_s": 1},
        agent={"summary_check_interval_s": 0.5},
    )
    prime_shard_sessions(broker.port, base_id)
    return AgentProcess(config, tmp_path / "agent.log").start()


def publish_line_message(
    publisher: Publisher, n: int, subjects_per_line: int, stamp: str | None = None
) -> None:
    """Message n goes to line n % 3; its subject (work order) lives on that line only."""
    line = n % LINES
    publisher.publish(
        f"plant1/line{line}/mes/completed",
        {
            "msg_id": f"m-{n}",
            "ts": stamp or utc_stamp(),
            "work_order": f"WH/MO/L{line}-{n % subjects_per_line:03d}",
            "n": n,
        },
    )


def test_sharded_ingestion_survives_kill9_in_order(tmp_path, broker, receiver):
    base_id = "edge-shards"
    day, stamp = previous_utc_day()  # a finished day: its summary is owed (see test_edge_kill9)
    agent = start_sharded_agent(tmp_path, broker, receiver, base_id)
    publisher = Publisher(broker.port)
    rng = random.Random(16)

    def publish_all():
        for n in range(EVENTS):
            publish_line_message(publisher, n, 40, stamp)
            if n % 100 == 99:
                # ~400 msgs/s: the stream lasts about as long as the kills (each restart
                # waits for the shards to run), so most kills land in it.
                time.sleep(0.25)

    publishing = threading.Thread(target=publish_all)
    publishing.start()
    kills = 0
    kills_during_stream = 0
    orphans: set[int] = set()
    try:
        while kills < KILLS:
            deadline = time.monotonic() + 20
            while len(shard_children(agent.process.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.2, 0.8))  # the shards are running: kill at a random point
            children = shard_children(agent.process.pid)
            assert len(children) >= 2, "the agent runs its shards as child processes"
            agent.kill9()
            kills += 1
            kills_during_stream += publishing.is_alive()
            # The shards must not outlive the agent: they would keep the client ids connected.
            orphans |= wait_gone(children)
            agent.start()
        publishing.join(120)
        publisher.confirm_all(60)
        assert receiver.wait_for(EVENTS, timeout=120), f"applied {receiver.applied_count()}"
        time.sleep(1.0)
        summaries = receiver.wait_for_summaries({day: EVENTS}, timeout=30)
    finally:
        agent.stop()
        publisher.close()
    assert receiver.applied_per_day() == {day: EVENTS}
    assert summaries == receiver.applied_per_day(), f"summaries {summaries}"
    assert kills_during_stream >= KILLS // 2, f"only {kills_during_stream} kills hit the stream"
    assert not orphans, f"shard processes outlived a kill -9 of the agent: {orphans}"
    ns = sorted(envelope["data"]["n"] for envelope in receiver.envelopes.values())
    assert ns == list(range(EVENTS)), "each published message applied exactly once"
    assert not receiver.out_of_order_subjects()
    assert not receiver.out_of_order_subjects(key=lambda e: e["data"]["n"]), "publish order"
    log = (tmp_path / "agent.log").read_text()
    assert "[shard 0]" in log and "[shard 1]" in log
    assert f"{shard_client_id(base_id, 1)}: plant1/line2/mes/completed" in log


def test_a_shard_killed_alone_is_restarted_and_loses_nothing(tmp_path, broker, receiver):
    agent = start_sharded_agent(tmp_path, broker, receiver, "edge-shard-alone")
    publisher = Publisher(broker.port)
    total = 3000
    try:
        deadline = time.monotonic() + 20
        while len(shard_children(agent.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        killed = 0
        for n in range(total):
            publish_line_message(publisher, n, 20)
            if n % 100 == 99:
                time.sleep(0.1)
            if n in (800, 1800):
                deadline = time.monotonic() + 20  # the shard killed first is back
                while len(shard_children(agent.process.pid)) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
                children = sorted(shard_children(agent.process.pid))
                assert len(children) >= 2
                os.kill(children[0], signal.SIGKILL)  # one shard dies; the agent lives on
                killed += 1
        publisher.confirm_all(60)
        assert receiver.wait_for(total, timeout=90), f"applied {receiver.applied_count()}"
        time.sleep(1.0)
        assert agent.process.poll() is None, "the agent survives a shard's death"
    finally:
        agent.stop()
        publisher.close()
    assert killed == 2
    ns = sorted(envelope["data"]["n"] for envelope in receiver.envelopes.values())
    assert ns == list(range(total))
    assert not receiver.out_of_order_subjects(key=lambda e: e["data"]["n"])
    assert (tmp_path / "agent.log").read_text().count("restarting in") >= 2
