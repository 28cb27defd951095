"""(e) 422 rejects go to the dead-letter table without blocking their subject; replay-dead works."""

from __future__ import annotations

import time

from edge_harness import (
    AgentProcess,
    Publisher,
    cli,
    mqtt_agent_config,
    status,
    utc_stamp,
)


def test_rejected_events_are_dead_lettered_and_replayed_after_a_fix(tmp_path, broker, receiver):
    config = mqtt_agent_config(tmp_path, broker, receiver, "edge-dead")
    fixed = {"qty": False}

    def reject_negative(envelope):
        if envelope["data"]["qty"] < 0 and not fixed["qty"]:
            return {"code": "invalid_data", "pointer": "/data/qty", "message": "qty must be >= 0"}
        return None

    receiver.reject = reject_negative
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    try:
        for n in range(200):
            payload = {
                "msg_id": f"m-{n}",
                "ts": utc_stamp(),
                "work_order": f"WH/MO/{n % 10:05d}",
                "qty": -1 if n % 20 == 5 else 3,
                "n": n,
            }
            publisher.publish("plant1/line1/mes/completed", payload)
        # Bad input at the source: kept as raw dead letters, never silently dropped.
        publisher.client.publish("plant1/line1/mes/completed", b"{not json", qos=1)
        publisher.publish(
            "plant1/line1/mes/completed",
            {"msg_id": "no-wo", "ts": utc_stamp(), "qty": 1, "n": 999},
        )
        publisher.confirm_all(30)
        assert receiver.wait_for(190, 60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and status(config)["dead_letters"] < 12:
            time.sleep(0.2)
        current = status(config)
        assert receiver.applied_count() == 190
        assert current["dead_letters"] == 12
        assert current["backlog"] == 0, "rejected events do not block the queue"
        human = cli(config, "status", "--dead-letters", "20")
        assert "invalid_data" in human.stdout and "/data/qty" in human.stdout
        assert "invalid_json" in human.stdout and "missing_field" in human.stdout
        # Events after a rejected one in the same subject went through (5, 25, ... were rejected).
        subject_5 = [e["data"]["n"] for e in receiver.order["WH/MO/00005"]]
        assert subject_5 == list(range(15, 200, 20))

        fixed["qty"] = True  # the mapping was fixed on the Odoo side
        result = cli(config, "replay-dead", "--reason", "invalid_data")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "10 dead letters queued" in result.stdout
        assert receiver.wait_for(200, 30), f"applied {receiver.applied_count()}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and status(config)["dead_letters"] != 2:
            time.sleep(0.2)
        assert status(config)["dead_letters"] == 2
        # Raw messages that still fit no rule stay dead, with their reason, and say so.
        again = cli(config, "replay-dead", "--all")
        assert again.returncode == 1
        assert "2 raw messages still fit no rule" in again.stdout
    finally:
        agent.stop()
        publisher.close()
    assert receiver.applied_count() == 200
    assert sorted(e["data"]["n"] for e in receiver.envelopes.values()) == list(range(200))
