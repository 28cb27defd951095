"""(g) OPC-UA server restarted: the client is rebuilt, subscriptions restored, data flows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from edge_harness import AgentProcess, agent_config, free_port, wait_port


def _simulator(port: int, log) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mfg_edge.cli",
            "simulate",
            "--no-mqtt",
            "--opcua-port",
            str(port),
            "--interval",
            "0.2",
            "--seed",
            "3",
        ],
        stdout=log,
        stderr=log,
    )


def _counter_events(receiver, after: float = 0.0) -> list[dict]:
    with receiver.lock:
        envelopes = list(receiver.envelopes.values())
    return [
        e
        for e in envelopes
        if e["type"] == "machine.counter.sampled" and e["receivedtime"] >= _iso(after)
    ]


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def test_opcua_server_restart_restores_subscriptions(tmp_path, receiver):
    port = free_port()
    rules = [
        {
            "name": "m1-good",
            "source": "opcua",
            "node": "ns=2;s=Line1.M1.GoodCount",
            "machine": "M1",
            "class": "telemetry",
            "publishing_interval_ms": 200,
            "type": "machine.counter.sampled",
            "version": "1.0",
            "subject": "machine/{machine}/good",
            "time": "source_time",
            "data": {"machine": "machine", "value": {"selector": "value", "as": "integer"}},
        },
        {
            "name": "m1-state",
            "source": "opcua",
            "node": "ns=2;s=Line1.M1.State",
            "machine": "M1",
            "value_map": {"0": "stopped", "1": "running", "2": "idle", "3": "fault"},
            "type": "machine.status.changed",
            "version": "1.0",
            "subject": "machine/{machine}",
            "time": "source_time",
            "data": {"machine": "machine", "state": "state"},
        },
    ]
    config = agent_config(tmp_path, receiver_url=receiver.url, broker_port=None, rules=rules)
    text = config.read_text() + (
        f"opcua:\n  endpoint: opc.tcp://127.0.0.1:{port}/mfg/simulator/\n"
        "  watchdog_interval_s: 0.5\n  connect_timeout_s: 3\n  backoff_max_s: 1\n"
    )
    config.write_text(text)
    log = open(tmp_path / "simulator.log", "ab")  # noqa: SIM115 - closed at the end
    simulator = _simulator(port, log)
    wait_port(port, 30)
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_counter_events(receiver)) < 5:
            time.sleep(0.1)
        assert len(_counter_events(receiver)) >= 5
        assert any(
            e["type"] == "machine.status.changed"
            and e["data"]["state"] in ("running", "stopped", "idle", "fault")
            for e in receiver.envelopes.values()
        )
        os.kill(simulator.pid, signal.SIGKILL)  # the PLC gateway dies without a goodbye
        simulator.wait(10)
        time.sleep(2.0)
        restarted_at = time.time()
        simulator = _simulator(port, log)
        wait_port(port, 30)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(_counter_events(receiver, restarted_at)) < 5:
            time.sleep(0.1)
        after = _counter_events(receiver, restarted_at)
    finally:
        agent.stop()
        simulator.send_signal(signal.SIGTERM)
        simulator.wait(20)
        log.close()
    assert len(after) >= 5, "values keep flowing after the server came back"
    agent_log = (tmp_path / "agent.log").read_text()
    assert "subscriptions restored after reconnect" in agent_log
    assert receiver.duplicates == 0 or receiver.applied_count() > 0
