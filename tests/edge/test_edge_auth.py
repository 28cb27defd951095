"""401 from Odoo: the agent stops sending, says so in status and /healthz, resumes on SIGHUP."""

from __future__ import annotations

import signal
import time

from edge_harness import AgentProcess, Publisher, mqtt_agent_config, status, utc_stamp


def test_refused_key_stops_sending_until_reload(tmp_path, broker, receiver):
    config = mqtt_agent_config(tmp_path, broker, receiver, "edge-auth")
    receiver.mode = "401"
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    try:
        for n in range(50):
            publisher.publish(
                "plant1/line1/mes/completed",
                {
                    "msg_id": f"m-{n}",
                    "ts": utc_stamp(),
                    "work_order": "WH/MO/00001",
                    "qty": 1,
                    "n": n,
                },
            )
        publisher.confirm_all(30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and status(config)["sender_state"] != "auth_failed":
            time.sleep(0.2)
        refused = status(config)
        assert refused["sender_state"] == "auth_failed"
        assert refused["backlog"] == 50, "nothing is lost while the key is refused"
        requests_after_refusal = receiver.requests
        time.sleep(3.0)
        assert receiver.requests == requests_after_refusal, "no hammering with a refused key"
        assert "Odoo refused the agent's API key" in (tmp_path / "agent.log").read_text()
        receiver.mode = None  # the key was fixed in Odoo
        agent.process.send_signal(signal.SIGHUP)
        assert receiver.wait_for(50, 30), f"applied {receiver.applied_count()}"
        time.sleep(0.5)
        assert status(config)["sender_state"] == "ok"
    finally:
        agent.stop()
        publisher.close()
    assert receiver.applied_count() == 50
