"""End-to-end benchmark: MQTT -> the edge agent -> Odoo's API -> processing, sustained.

    MFG_EDGE_VENV=.venv-edge .venv/bin/python tests/bench/bench_e2e.py \\
        --source-db <db with base and mes installed> [--rate 1500] [--duration 150]

Copies ``--source-db`` (no open sessions) to a scratch database and starts, on 127.0.0.1:
its own Mosquitto, an Odoo server with two workers and its job runner (channel root:2, crons
off), and the real ``mfg-edge run`` process posting to it. The raw-socket publisher
(mqtt_blaster.py, never the bottleneck) then offers ``--rate`` QoS 1 messages a second for
``--duration`` seconds, twice:

* record-only: mes.production.completed made record-only (done once stored: the pipeline ends
  at Odoo's ingest);
* one real handler: integration.sent.summary (a queue_job per chunk of events, the handler
  writes one row per event).

Every 5 s it samples each stage's running total: messages the agent received, events it
stored, events it sent (answered), events Odoo stored, events Odoo applied (done). It prints
each stage's rate over the sustained part (the first 15 s left out) and the backlog between
stages at the end: the first stage that runs slower than the one before it, with a backlog
that grows in front of it, is where the pipeline saturates. Figures depend on the machine and
on what else runs on it (the load average is printed).
"""

import argparse
import itertools
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "edge"))
sys.path.insert(0, str(HERE))

from bench.bench_common import REPO, drop, odoo_env, scratch_copy  # noqa: E402
from edge_harness import EDGE_PYTHON, Broker, free_port, prime_session  # noqa: E402
from mqtt_blaster import blast  # noqa: E402
from odoo_server.server import OdooServer  # noqa: E402

COMPLETED = "mes.production.completed"
SUMMARY = "integration.sent.summary"
SAMPLE_S = 5.0
WARMUP_S = 15.0
CLIENT_ID = "bench-e2e-agent"
RULES = [
    {
        "name": "completed",
        "source": "mqtt",
        "topic": "plant1/line1/mes/completed",
        "type": COMPLETED,
        "version": "1.0",
        "subject": "{payload.work_order}",
        "message_id": "payload.msg_id",
        "data": {
            "production_ref": "payload.work_order",
            "qty": {"selector": "payload.qty", "as": "number"},
            "uom": "payload.uom",
            "lot": "payload.lot",
        },
    },
    {
        "name": "summary",
        "source": "mqtt",
        "topic": "plant1/line1/mes/summary",
        "type": SUMMARY,
        "version": "1.0",
        "subject": "summary/{payload.day}",
        "message_id": "payload.msg_id",
        "data": {"day": "payload.day", "counts": "payload.counts"},
    },
]


def messages(kind, count, tag):
    """``count`` MQTT messages of ``kind`` ('completed' or 'summary'), ids unique to the run."""
    if kind == "completed":
        return [
            (
                "plant1/line1/mes/completed",
                json.dumps(
                    {
                        "msg_id": f"{tag}-{n}",
                        "work_order": f"WH/MO/{n % 500:05d}",
                        "qty": 25,
                        "uom": "Units",
                        "lot": f"L2026-1123-{n % 97:02d}",
                    }
                ).encode(),
            )
            for n in range(count)
        ]
    # one day per message: the handler writes one row per (system, day, type)
    return [
        (
            "plant1/line1/mes/summary",
            json.dumps(
                {
                    "msg_id": f"{tag}-{n}",
                    "day": time.strftime("%Y-%m-%d", time.gmtime(86400 * (n % 40000))),
                    "counts": [{"type": f"bench.t{tag}.n{n // 40000}", "count": n}],
                }
            ).encode(),
        )
        for n in range(count)
    ]


def prepare(database, conf):
    with odoo_env(database, conf) as env:
        contracts = env["mfg.integration.contract"].search(
            [("code", "in", (COMPLETED, SUMMARY)), ("version", "=", "1.0")]
        )
        contracts.filtered(lambda c: c.code == COMPLETED).write(
            {"state": "active", "processing_mode": "record"}
        )
        system = env["mfg.integration.system"].create(
            {
                "name": "bench_e2e",
                "code": "bench_e2e",
                "kind": "edge",
                "rate_limit_per_minute": 0,
                "allowed_contract_ids": [(6, 0, contracts.ids)],
            }
        )
        return system.id, system._generate_api_key("bench_e2e")


def agent_metrics(port):
    """{name: value} of the agent's counters (labels summed)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    totals = {}
    for line in text.splitlines():
        match = re.match(r"^(mfg_edge_[a-z_]+?)(?:_total)?(?:\{[^}]*\})? ([0-9.e+]+)$", line)
        if match:
            totals[match.group(1)] = totals.get(match.group(1), 0.0) + float(match.group(2))
    return totals


def odoo_counts(database, system_id, contract):
    with psycopg2.connect(dbname=database) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'done') FROM mfg_integration_event"
            " WHERE system_id = %s AND event_type = %s",
            [system_id, contract],
        )
        return cursor.fetchone()


def _blast_main(port, kind, count, rate, tag, done):
    done.value = blast(port, messages(kind, count, tag), rate=rate, client_id=f"e2e-{tag}"[:23])


def phase(args, kind, contract, broker, metrics_port, system_id):
    """Offer --rate messages/s for --duration s; returns the samples (time, stage totals)."""
    count = int(args.rate * args.duration)
    tag = uuid.uuid4().hex[:8]
    # the previous phase's backlog first: each phase's stages count its own events only
    deadline = time.monotonic() + 900
    while agent_metrics(metrics_port).get("mfg_edge_backlog_events", 0) and (
        time.monotonic() < deadline
    ):
        time.sleep(1)
    done = multiprocessing.Value("d", 0.0)
    publisher = multiprocessing.Process(
        target=_blast_main, args=(broker.port, kind, count, args.rate, tag, done)
    )
    before = agent_metrics(metrics_port)
    base_stored, base_done = odoo_counts(args.db, system_id, contract)
    started = time.monotonic()
    publisher.start()
    samples = []
    # sample while the publisher offers the load, then until the pipeline drained (bounded)
    deadline = started + args.duration + args.drain
    while time.monotonic() < deadline:
        time.sleep(SAMPLE_S)
        agent = agent_metrics(metrics_port)
        stored, applied = odoo_counts(args.db, system_id, contract)
        at = time.monotonic() - started
        samples.append(
            {
                "t": at,
                "published": min(count, args.rate * at) if publisher.is_alive() else count,
                "agent received": agent.get("mfg_edge_messages_received", 0)
                - before.get("mfg_edge_messages_received", 0),
                "agent stored": agent.get("mfg_edge_events_stored", 0)
                - before.get("mfg_edge_events_stored", 0),
                "agent sent": agent.get("mfg_edge_events_sent", 0)
                - before.get("mfg_edge_events_sent", 0),
                "odoo stored": stored - base_stored,
                "odoo applied": applied - base_done,
            }
        )
        if not publisher.is_alive() and samples[-1]["odoo applied"] >= count:
            break
    publisher.join(60)
    return count, samples


STAGES = (
    "published",
    "agent received",
    "agent stored",
    "agent sent",  # answered by Odoo's API
    "odoo stored",
    "odoo applied",
)


def report(label, count, samples, duration):
    """Each stage's rate over the sustained window (WARMUP_S .. duration) and at the end."""
    window = [s for s in samples if WARMUP_S <= s["t"] <= duration + SAMPLE_S / 2]
    print(f"  {label}: {count} messages offered")
    if len(window) < 2:
        print("    (too short to measure a sustained rate)")
        return
    first, last = window[0], window[-1]
    span = last["t"] - first["t"]
    rates = {stage: (last[stage] - first[stage]) / span for stage in STAGES}
    end = samples[-1]
    saturated = None
    for upstream, stage in itertools.pairwise(STAGES):
        if rates[stage] < 0.95 * rates[upstream] and saturated is None:
            saturated = stage
    for stage in STAGES:
        print(
            f"    {stage:15} {rates[stage]:8.0f} /s sustained   {end[stage]:9.0f} in all"
            f" after {end['t']:.0f} s"
        )
    print(
        f"    saturates at: {saturated or 'nothing (every stage kept up)'}"
        + (
            f" (backlog in front of it at the end of the offered load: "
            f"{_backlog_at(samples, duration, saturated):.0f})"
            if saturated
            else ""
        )
    )


def _backlog_at(samples, duration, stage):
    upstream = STAGES[STAGES.index(stage) - 1]
    sample = min(samples, key=lambda s: abs(s["t"] - duration))
    return sample[upstream] - sample[stage]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-db", required=True)
    parser.add_argument("--db", default="mfg_bench_e2e")
    parser.add_argument("--conf", default=str(REPO / "run" / "odoo-test.conf"))
    parser.add_argument("--venv", default=str(REPO / ".venv"))
    parser.add_argument("--port", type=int, default=8196)
    parser.add_argument("--rate", type=float, default=1500, help="messages offered per second")
    parser.add_argument("--duration", type=float, default=150, help="seconds of offered load")
    parser.add_argument("--drain", type=float, default=60, help="seconds to wait after it")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    scratch_copy(args.source_db, args.db)
    work = Path(tempfile.mkdtemp(prefix="bench_e2e_"))
    server = broker = agent = None
    results = []
    try:
        system_id, key = prepare(args.db, args.conf)
        server = OdooServer(args.db, args.conf, args.venv, args.port, workers=2)
        server.conf.write_text(
            server.conf.read_text().replace("max_cron_threads = 1", "max_cron_threads = 0")
        )
        server.start()
        broker = Broker(work / "broker").start()
        prime_session(broker.port, CLIENT_ID, [rule["topic"] for rule in RULES])
        metrics_port = free_port()
        config = work / "agent.yaml"
        config.write_text(
            json.dumps(
                {
                    "agent": {
                        "source": "plant1/gw-e2e",
                        "data_dir": str(work / "data"),
                        "heartbeat_interval_s": 3600,
                    },
                    "odoo": {"url": server.url, "batch_size": 500, "timeout_s": 60},
                    "metrics": {"port": metrics_port},
                    "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": CLIENT_ID},
                    "rules": RULES,
                }
            )
        )
        log = open(work / "agent.log", "ab")  # noqa: SIM115 - closed below
        agent = subprocess.Popen(
            [EDGE_PYTHON, "-m", "mfg_edge.cli", "run", "-c", str(config)],
            stdout=log,
            stderr=log,
            env=dict(os.environ, MFG_EDGE_API_KEY=key),
        )
        for _attempt in range(60):
            try:
                agent_metrics(metrics_port)
                break
            except OSError:
                time.sleep(0.5)
        load = os.getloadavg()
        for label, kind, contract in (
            ("record-only (done once stored)", "completed", COMPLETED),
            ("one real handler (queue_job, integration.sent.summary)", "summary", SUMMARY),
        ):
            count, samples = phase(args, kind, contract, broker, metrics_port, system_id)
            results.append((label, count, samples))
    finally:
        if agent:
            agent.terminate()
            agent.wait(30)
        if broker:
            broker.stop()
        if server:
            server.stop()
        if not args.keep:
            drop(args.db)
    print(
        f"end-to-end benchmark: {args.rate:.0f} messages/s offered for {args.duration:.0f} s;"
        f" Odoo 2 workers + job runner (root:2), {os.cpu_count()} cores, load average"
        f" {load[0]:.1f} at the start"
    )
    for label, count, samples in results:
        report(label, count, samples, args.duration)


if __name__ == "__main__":
    main()
