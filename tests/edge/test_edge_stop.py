"""SIGTERM stops the agent within 5 s in every state, and what it held stays at its source.

States: store full with transactional messages held at the broker, Odoo down with the sender
backing off, the broker down, a CSV file half read (store full mid-file), an OPC-UA server that
accepts TCP but never answers. A second SIGTERM or SIGINT never makes the stop longer. After each
stop, the agent starts again with room and Odoo up: every message arrives exactly once.
"""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest
from edge_harness import (
    MOSQUITTO,
    AgentProcess,
    Broker,
    Publisher,
    agent_config,
    free_port,
    mqtt_agent_config,
    status,
    utc_stamp,
)

STOP_LIMIT_S = 5.0


def _terminate(agent: AgentProcess, *signals: tuple[float, int]) -> float:
    """Send the signals (delay after the first, signal) and return the seconds until the exit."""
    process = agent.process
    started = time.monotonic()
    for delay, number in signals:
        time.sleep(max(0.0, started + delay - time.monotonic()))
        if process.poll() is None:
            process.send_signal(number)
    try:
        process.wait(30)
    except Exception:
        process.kill()
        process.wait(5)
        raise
    return time.monotonic() - started


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {what}")


def _log(tmp_path) -> str:
    return (tmp_path / "agent.log").read_text(errors="replace")


def _publish(publisher: Publisher, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        publisher.publish(
            "plant1/line1/mes/completed",
            {
                "msg_id": f"m-{n}",
                "ts": utc_stamp(),
                "work_order": f"WH/MO/{n % 5:05d}",
                "qty": 1,
                "n": n,
            },
        )


def _restart_and_check_all_arrive(tmp_path, config, receiver, expected: int) -> None:
    """Room in the store and Odoo up: every message held at the source arrives, once."""
    text = config.read_text().replace("max_events: 30", "max_events: 100000")
    config.write_text(text)
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        assert receiver.wait_for(expected, 60), f"applied {receiver.applied_count()}/{expected}"
        time.sleep(0.5)
    finally:
        assert agent.stop() == 0
    ns = sorted(e["data"]["n"] for e in receiver.envelopes.values())
    assert ns == list(range(expected)), "each message applied exactly once"


@pytest.fixture
def wide_broker(tmp_path):
    """A broker that sends up to 1,000 unacknowledged messages (a gateway tuned for throughput):
    with the store full, they fill the agent's uncommitted queue and the MQTT thread waits."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (setup/run.sh installs it)")
    server = Broker(tmp_path / "wide-broker", "max_inflight_messages 1000\n").start()
    yield server
    server.stop()


@pytest.mark.parametrize("second_signal", [None, signal.SIGINT], ids=["sigterm", "then-sigint"])
def test_stop_with_the_store_full_and_messages_held_at_the_broker(
    tmp_path, wide_broker, receiver, second_signal
):
    broker = wide_broker
    config = mqtt_agent_config(
        tmp_path,
        broker,
        receiver,
        "edge-stop-full",
        store={"max_events": 30, "max_uncommitted_messages": 20},
    )
    receiver.stop()  # Odoo unreachable: the store fills, later messages wait at the broker
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    try:
        _publish(publisher, 120)
        publisher.confirm_all(30)
        _wait(lambda: "holding" in _log(tmp_path), 30, "the store is full and holds messages")
        time.sleep(1.0)  # the MQTT thread now waits for room in the uncommitted queue
        signals = [(0.0, signal.SIGTERM)]
        if second_signal:
            signals.append((0.3, second_signal))
        took = _terminate(agent, *signals)
    finally:
        publisher.close()
    assert took < STOP_LIMIT_S, f"stopped after {took:.1f} s"
    assert agent.process.returncode == 0
    assert status(config)["backlog"] == 30, "what was stored stays stored"
    receiver.start()
    _restart_and_check_all_arrive(tmp_path, config, receiver, 120)


def test_stop_while_odoo_is_down_and_the_sender_backs_off(tmp_path, broker, receiver):
    config = mqtt_agent_config(
        tmp_path, broker, receiver, "edge-stop-down", odoo={"backoff_max_s": 120}
    )
    receiver.stop()
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    try:
        _publish(publisher, 50)
        publisher.confirm_all(30)
        _wait(lambda: status(config)["backlog"] == 50, 30, "50 events stored")
        _wait(lambda: "retry 5 in" in _log(tmp_path), 60, "the sender backing off")
        took = _terminate(agent, (0.0, signal.SIGTERM))
    finally:
        publisher.close()
    assert took < STOP_LIMIT_S, f"stopped after {took:.1f} s"
    receiver.start()
    _restart_and_check_all_arrive(tmp_path, config, receiver, 50)


def test_stop_while_the_broker_is_down(tmp_path, broker, receiver):
    config = mqtt_agent_config(tmp_path, broker, receiver, "edge-stop-broker")
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    try:
        _publish(publisher, 40)
        publisher.confirm_all(30)
        assert receiver.wait_for(40, 30)
    finally:
        publisher.close()
    broker.stop()
    _wait(lambda: "MQTT disconnected" in _log(tmp_path), 30, "the agent sees the broker gone")
    time.sleep(1.5)  # reconnect attempts with backoff
    took = _terminate(agent, (0.0, signal.SIGTERM))
    assert took < STOP_LIMIT_S, f"stopped after {took:.1f} s"
    broker.start()
    publisher = Publisher(broker.port)
    try:
        _publish(publisher, 20, start=40)  # queued in the agent's persistent session
        publisher.confirm_all(30)
    finally:
        publisher.close()
    _restart_and_check_all_arrive(tmp_path, config, receiver, 60)


def test_stop_with_a_csv_file_half_read(tmp_path, receiver):
    drop = tmp_path / "drop"
    drop.mkdir()
    rule = {
        "name": "csv-production",
        "source": "csv",
        "folder": str(drop),
        "columns": ["work_order", "n"],
        "type": "mes.production.completed",
        "version": "1.0",
        "subject": "{row.work_order}",
        "data": {"production_ref": "row.work_order", "n": {"selector": "row.n", "as": "integer"}},
    }
    config = agent_config(
        tmp_path,
        receiver_url=receiver.url,
        broker_port=None,
        rules=[rule],
        csv={"settle_ms": 200, "poll_interval_ms": 50, "rows_per_commit": 10},
        store={"max_events": 30},
    )
    receiver.stop()  # the store fills in the middle of the file
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    rows = ["work_order,n"] + [f"WH/MO/{n % 5:05d},{n}" for n in range(200)]
    (drop / "shift.csv").write_text("\n".join(rows) + "\n")
    _wait(lambda: "holding" in _log(tmp_path), 30, "the file half read, the store full")
    took = _terminate(agent, (0.0, signal.SIGTERM), (0.2, signal.SIGTERM))
    assert took < STOP_LIMIT_S, f"stopped after {took:.1f} s"
    assert (drop / "shift.csv").exists(), "a file half read stays in the drop folder"
    receiver.start()
    _restart_and_check_all_arrive(tmp_path, config, receiver, 200)
    assert (drop / "processed" / "shift.csv").exists()


def test_stop_while_an_opcua_server_does_not_answer(tmp_path, receiver):
    # A TCP listener that never speaks OPC-UA: the agent's connect waits for connect_timeout_s.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted = []
    threading.Thread(
        target=lambda: accepted.append(silent.accept()), daemon=True, name="silent-opcua"
    ).start()
    rule = {
        "name": "m1-state",
        "source": "opcua",
        "node": "ns=2;s=Line1.M1.State",
        "machine": "M1",
        "type": "machine.status.changed",
        "version": "1.0",
        "subject": "machine/{machine}",
        "time": "source_time",
        "data": {"machine": "machine", "state": "value"},
    }
    config = agent_config(tmp_path, receiver_url=receiver.url, broker_port=None, rules=[rule])
    port = silent.getsockname()[1]
    config.write_text(
        config.read_text()
        + f"opcua:\n  endpoint: opc.tcp://127.0.0.1:{port}/silent\n  connect_timeout_s: 30\n"
    )
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        _wait(lambda: accepted, 30, "the agent connecting to the silent server")
        time.sleep(0.5)
        took = _terminate(agent, (0.0, signal.SIGTERM))
    finally:
        silent.close()
    assert took < STOP_LIMIT_S, f"stopped after {took:.1f} s"
    assert agent.process.returncode == 0
    assert "stopping" in _log(tmp_path)
    assert free_port()  # the test leaves no listener behind
