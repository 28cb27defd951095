"""(a) kill -9 the agent 20 times during a 10,000-event MQTT stream: nothing lost, nothing twice."""

from __future__ import annotations

import os
import random
import threading
import time

from edge_harness import AgentProcess, Publisher, agent_config, mes_rules, prime_session

EVENTS = int(os.environ.get("MFG_EDGE_KILL_EVENTS", "10000"))
KILLS = int(os.environ.get("MFG_EDGE_KILLS", "20"))


def test_kill9_during_stream_loses_nothing_and_applies_nothing_twice(tmp_path, broker, receiver):
    rules = mes_rules()
    config = agent_config(
        tmp_path,
        receiver_url=receiver.url,
        broker_port=broker.port,
        rules=rules,
        client_id="edge-kill9",
    )
    prime_session(broker.port, "edge-kill9", [rules[0]["topic"]])
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    rng = random.Random(6)

    def publish_all():
        for n in range(EVENTS):
            publisher.publish(
                f"plant1/line{n % 3}/mes/completed",
                {
                    "msg_id": f"m-{n}",
                    "ts": "2026-11-23T08:00:00Z",
                    "work_order": f"WH/MO/{n % 50:05d}",
                    "qty": 1,
                    "n": n,
                },
            )
            if n % 500 == 499:
                time.sleep(0.05)  # a plant does not publish 10,000 messages in one burst

    publishing = threading.Thread(target=publish_all)
    publishing.start()
    kills = 0
    try:
        # Kill at random moments while the stream flows and the backlog drains.
        while kills < KILLS:
            time.sleep(rng.uniform(0.3, 1.2))
            agent.kill9()
            kills += 1
            agent.start()
        publishing.join(120)
        publisher.confirm_all(60)
        assert receiver.wait_for(
            EVENTS, timeout=120
        ), f"applied {receiver.applied_count()} of {EVENTS}"
        time.sleep(1.0)  # anything sent twice after the last one would show up now
    finally:
        agent.stop()
        publisher.close()
    assert kills == KILLS
    applied = receiver.applied_count()
    ns = sorted(envelope["data"]["n"] for envelope in receiver.envelopes.values())
    assert applied == EVENTS
    assert ns == list(range(EVENTS)), "each published message applied exactly once"
    # Replays after the kills were answered duplicate, never applied again.
    print(f"kills={kills} applied={applied} duplicates_answered={receiver.duplicates}")
    assert not receiver.out_of_order_subjects()
