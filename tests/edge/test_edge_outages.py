"""(b) receiver down for a period, (c) Mosquitto restarted mid-stream: nothing lost, order kept."""

from __future__ import annotations

import os
import threading
import time

from edge_harness import AgentProcess, Publisher, mqtt_agent_config, status, utc_stamp

# The issue asks for a 60 s outage; the default run uses 12 s to keep CI short (the mechanism is
# the same: connection refused, full-jitter backoff capped at 2 s here). MFG_EDGE_OUTAGE_S=60.
OUTAGE_S = float(os.environ.get("MFG_EDGE_OUTAGE_S", "12"))


def _payload(n: int, subjects: int = 20) -> dict:
    return {
        "msg_id": f"m-{n}",
        "ts": utc_stamp(),
        "work_order": f"WH/MO/{n % subjects:05d}",
        "qty": 2,
        "n": n,
    }


def test_receiver_down_then_everything_delivered_in_order_per_subject(tmp_path, broker, receiver):
    config = mqtt_agent_config(tmp_path, broker, receiver, "edge-outage")
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    try:
        for n in range(500):
            publisher.publish("plant1/line1/mes/completed", _payload(n))
        assert receiver.wait_for(500, 60)
        receiver.stop()
        outage_started = time.monotonic()
        per_second = 2000 / OUTAGE_S
        n = 500
        while time.monotonic() - outage_started < OUTAGE_S:
            for _ in range(max(1, int(per_second / 10))):
                if n < 2500:
                    publisher.publish("plant1/line1/mes/completed", _payload(n))
                    n += 1
            time.sleep(0.1)
        while n < 2500:
            publisher.publish("plant1/line1/mes/completed", _payload(n))
            n += 1
        publisher.confirm_all(60)
        time.sleep(1.0)
        during = status(config)
        assert during["backlog"] > 0, "events wait in the store while the receiver is down"
        assert during["sender_state"] == "retrying"
        assert receiver.applied_count() == 500
        receiver.start()  # same port, same memory: Odoo is back
        assert receiver.wait_for(2500, 60), f"applied {receiver.applied_count()}"
        time.sleep(0.5)
    finally:
        agent.stop()
        publisher.close()
    assert receiver.applied_count() == 2500
    assert sorted(e["data"]["n"] for e in receiver.envelopes.values()) == list(range(2500))
    assert receiver.out_of_order_subjects() == []
    assert receiver.out_of_order_subjects(key=lambda e: e["data"]["n"]) == []
    assert len(receiver.order) == 20
    final = status(config)
    assert final["backlog"] == 0
    assert final["sender_state"] == "ok"


def test_broker_restart_mid_stream_loses_no_qos1_message(tmp_path, broker, receiver):
    config = mqtt_agent_config(tmp_path, broker, receiver, "edge-brokerrs")
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    total = 3000
    restarted = threading.Event()

    def restart_broker():
        broker.stop()
        time.sleep(2.0)
        broker.start()
        restarted.set()

    try:
        restarter = None
        for n in range(total):
            publisher.publish("plant1/line2/mes/completed", _payload(n))
            if n == 1000:
                restarter = threading.Thread(target=restart_broker)
                restarter.start()
            if n % 100 == 99:
                time.sleep(0.05)
        restarter.join(30)
        assert restarted.is_set()
        publisher.confirm_all(90)
        assert receiver.wait_for(total, 90), f"applied {receiver.applied_count()}"
        time.sleep(0.5)
    finally:
        agent.stop()
        publisher.close()
    assert receiver.applied_count() == total
    assert sorted(e["data"]["n"] for e in receiver.envelopes.values()) == list(range(total))
    log = (tmp_path / "agent.log").read_text()
    assert "session present" in log, "the agent reconnected to its persistent session"
