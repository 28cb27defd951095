"""Two Odoo nodes of one database in odoo.url: the agent fails over when the node in use dies
(after applying a batch it never answered), back to the first node when it returns, and every
message is applied once, in order per subject, and counted once."""

from __future__ import annotations

import time

from edge_harness import AgentProcess, Publisher, mqtt_agent_config, status, utc_stamp

from mfg_edge.store import Store

TOTAL = 3000


def _payload(n: int, subjects: int = 20) -> dict:
    return {
        "msg_id": f"m-{n}",
        "ts": utc_stamp(),
        "work_order": f"WH/MO/{n % subjects:05d}",
        "qty": 2,
        "n": n,
    }


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_node_dies_mid_stream_then_fail_over_and_back_without_loss_or_duplicate(
    tmp_path, broker, receiver
):
    # two nodes on the receiver's state (one database); the receiver's own front is unused
    first = receiver.node().start()
    second = receiver.node().start()
    config = mqtt_agent_config(tmp_path, broker, receiver, "edge-failover", odoo={"failback_s": 2})
    text = config.read_text().replace(
        f"url: {receiver.url}", f"url:\n  - {first.url}\n  - {second.url}"
    )
    assert text != config.read_text()
    config.write_text(text)
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)

    try:
        n = 0
        while n < 1000:
            publisher.publish("plant1/line1/mes/completed", _payload(n))
            n += 1
        assert receiver.wait_for(1000, 60), f"applied {receiver.applied_count()}"
        assert second.requests == 0, "the first node is preferred while it answers"
        # the first node applies the next batch, then dies before answering it
        duplicates_before = receiver.duplicates
        first.die_after_apply = True
        while n < 2000:
            publisher.publish("plant1/line1/mes/completed", _payload(n))
            n += 1
            if n % 100 == 0:
                time.sleep(0.05)
        assert _wait(lambda: second.requests > 0, 30), "the agent failed over to the second node"
        assert receiver.wait_for(2000, 60), f"applied {receiver.applied_count()}"
        assert (
            receiver.duplicates > duplicates_before
        ), "the batch the dead node applied was resent to the second node: answered duplicate"
        # the first node is back: the agent returns to it within failback_s
        assert _wait(lambda: first._server is None, 5)
        first.start()
        served_by_first = first.requests
        failed_back = False
        # a stream of about 100 messages a second: the agent tries the first node again
        # failback_s (2 s) after it left it, at its next batch
        while n < 2500 and not failed_back:
            publisher.publish("plant1/line1/mes/completed", _payload(n))
            n += 1
            time.sleep(0.01)
            failed_back = first.requests > served_by_first
        assert failed_back, "the agent went back to the first node"
        on_second = second.requests
        # the second node goes away: the agent, back on the first, does not notice
        second.stop()
        while n < TOTAL:
            if n % 100 == 0:
                time.sleep(0.05)
            publisher.publish("plant1/line1/mes/completed", _payload(n))
            n += 1
        publisher.confirm_all(60)
        assert receiver.wait_for(TOTAL, 60), f"applied {receiver.applied_count()}"
        time.sleep(0.5)
        final = status(config)
        assert second.requests == on_second, "nothing went to the second node once back"
    finally:
        agent.stop()
        publisher.close()
        first.stop()
        second.stop()
    assert receiver.applied_count() == TOTAL
    assert sorted(e["data"]["n"] for e in receiver.envelopes.values()) == list(range(TOTAL))
    assert receiver.out_of_order_subjects() == []
    assert receiver.out_of_order_subjects(key=lambda e: e["data"]["n"]) == []
    assert final["backlog"] == 0
    assert final["sender_state"] == "ok"
    # counted once each for the day's summary: the resent batch was this queue's own attempt
    store = Store(tmp_path / "data" / "events.sqlite3", read_only=True)
    try:
        assert sum(store.counted_days().values()) == TOTAL
    finally:
        store.close()
    log = (tmp_path / "agent.log").read_text()
    assert "did not answer" in log and "trying the first Odoo node" in log
