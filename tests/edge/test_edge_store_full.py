"""(d) store full: telemetry is shed with a metric, transactional events wait at the broker."""

from __future__ import annotations

import time
import urllib.request

from edge_harness import AgentProcess, Publisher, mes_rules, mqtt_agent_config, status, utc_stamp
from prometheus_client.parser import text_string_to_metric_families


def test_store_full_sheds_telemetry_and_never_drops_transactional(tmp_path, broker, receiver):
    rules = mes_rules("plant1/+/mes/completed")
    rules.append(
        {
            "name": "temperature",
            "source": "mqtt",
            "topic": "plant1/+/telemetry/temperature",
            "type": "machine.counter.sampled",
            "version": "1.0",
            "class": "telemetry",
            "subject": "machine/{payload.machine}/temperature",
            "message_id": "payload.msg_id",
            "data": {"machine": "payload.machine", "value": "payload.value", "n": "payload.n"},
        }
    )
    config = mqtt_agent_config(
        tmp_path,
        broker,
        receiver,
        "edge-full",
        rules=rules,
        store={"max_events": 50, "telemetry_when_full": "shed"},
    )
    receiver.stop()  # Odoo unreachable: the store fills up
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    publisher = Publisher(broker.port)
    try:
        for n in range(300):
            if n % 3 == 0:
                payload = {
                    "msg_id": f"t-{n}",
                    "ts": utc_stamp(),
                    "work_order": f"WH/MO/{n % 7:05d}",
                    "qty": 1,
                    "n": n,
                }
                publisher.publish("plant1/line1/mes/completed", payload)
            else:
                publisher.publish(
                    "plant1/line1/telemetry/temperature",
                    {"msg_id": f"s-{n}", "machine": "M1", "value": 40 + n % 5, "n": n},
                )
        publisher.confirm_all(30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and status(config)["events_shed_total"] == 0:
            time.sleep(0.2)
        time.sleep(1.0)
        full = status(config)
        assert full["backlog"] == 50, "the store holds exactly its bound"
        assert full["events_shed_total"] > 0
        log = (tmp_path / "agent.log").read_text()
        assert "store full" in log and "holding" in log
        receiver.start()
        assert receiver.wait_for(100, 60), f"transactional applied {receiver.applied_count()}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and status(config)["backlog"] > 0:
            time.sleep(0.2)
        time.sleep(1.0)
        metrics_port = None
        for line in (tmp_path / "agent.log").read_text().splitlines():
            if "metrics and health on http://127.0.0.1:" in line:
                metrics_port = int(line.split("127.0.0.1:")[1].split("/")[0])
        scraped = (
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            .read()
            .decode()
        )
    finally:
        agent.stop()
        publisher.close()
    applied = list(receiver.envelopes.values())
    transactional = [e for e in applied if e["type"] == "mes.production.completed"]
    telemetry = [e for e in applied if e["type"] == "machine.counter.sampled"]
    shed = status(config)["events_shed_total"]
    assert sorted(e["data"]["n"] for e in transactional) == list(range(0, 300, 3)), "none dropped"
    assert (
        len(telemetry) + shed == 200
    ), "every telemetry sample is either delivered or counted shed"
    assert shed > 0
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    assert samples[("mfg_edge_events_shed_total", (("source", "store"),))] == shed
    # Every stored message was timed from arrival to commit, every POST timed, the process seen.
    stored = samples[("mfg_edge_events_stored_total", ())]
    assert samples[("mfg_edge_arrival_to_durable_seconds_count", ())] >= stored > 0
    assert samples[("mfg_edge_send_duration_seconds_count", ())] > 0
    assert samples[("process_resident_memory_bytes", ())] > 0
