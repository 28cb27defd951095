"""(a) kill -9 the agent 20 times during a 10,000-event MQTT stream: nothing lost, nothing twice."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time

from edge_harness import (
    AgentProcess,
    Publisher,
    kill_during,
    mqtt_agent_config,
    previous_utc_day,
)

EVENTS = int(os.environ.get("MFG_EDGE_KILL_EVENTS", "10000"))
KILLS = int(os.environ.get("MFG_EDGE_KILLS", "20"))


def test_kill9_during_stream_loses_nothing_and_applies_nothing_twice(tmp_path, broker, receiver):
    # Yesterday's events (relative to the clock): the agent owes that finished day's summary,
    # and it must end equal to what the receiver applied, whatever the kills did.
    day, stamp = previous_utc_day()
    config = mqtt_agent_config(
        tmp_path, broker, receiver, "edge-kill9", agent={"summary_check_interval_s": 0.5}
    )
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    rng = random.Random(6)

    def publish_all():
        for n in range(EVENTS):
            publisher.publish(
                f"plant1/line{n % 3}/mes/completed",
                {
                    "msg_id": f"m-{n}",
                    "ts": stamp,
                    "work_order": f"WH/MO/{n % 50:05d}",
                    "qty": 1,
                    "n": n,
                },
            )
            if n % 100 == 99:
                # ~700 msgs/s: the stream lasts about as long as the 20 kills, so they land in it.
                time.sleep(0.14)

    publishing = threading.Thread(target=publish_all)
    publishing.start()
    kills = kills_during_stream = 0
    try:
        # Kill at random moments while the stream flows and the backlog drains.
        kills_during_stream = kill_during(agent, publishing, KILLS, rng)
        kills = KILLS
        publishing.join(120)
        publisher.confirm_all(60)
        assert receiver.wait_for(
            EVENTS, timeout=120
        ), f"applied {receiver.applied_count()} of {EVENTS}"
        time.sleep(1.0)  # anything sent twice after the last one would show up now
        summaries = receiver.wait_for_summaries({day: EVENTS}, timeout=30)
    finally:
        agent.stop()
        publisher.close()
    assert kills == KILLS
    assert kills_during_stream >= KILLS * 3 // 4, f"only {kills_during_stream} kills hit the stream"
    applied = receiver.applied_count()
    ns = sorted(envelope["data"]["n"] for envelope in receiver.envelopes.values())
    assert applied == EVENTS
    assert ns == list(range(EVENTS)), "each published message applied exactly once"
    # Replays after the kills were answered duplicate, never applied again, and the agent
    # counted each event once for its daily summary (a batch applied just before a kill is
    # counted when its resend is answered duplicate with the row's own sequence).
    with sqlite3.connect(tmp_path / "data" / "events.sqlite3") as db:
        counted = db.execute("SELECT COALESCE(SUM(count), 0) FROM daily_counts").fetchone()[0]
    print(
        f"kills={kills} (during stream {kills_during_stream}) applied={applied}"
        f" duplicates_answered={receiver.duplicates} counted={counted}"
    )
    assert counted == EVENTS
    assert not receiver.out_of_order_subjects()
    # The newest summary of each day equals what the receiver applied of that day (revisions
    # for counts that grew after a report are sent in order; the newest is the one that holds).
    assert receiver.applied_per_day() == {day: EVENTS}
    assert summaries == receiver.applied_per_day(), f"summaries {summaries}"
