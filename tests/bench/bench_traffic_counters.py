"""What the traffic counters cost the ingest: batches of 500 events with and without them.

    .venv/bin/python tests/bench/bench_traffic_counters.py --source-db mfg_demo

Copies ``--source-db`` (addons installed, no open sessions) to a scratch database and
ingests batches of 500 valid events in process (validated, stored, enqueued as jobs),
alternating batches with the hourly counters (the delta rows the overview and the metrics
read) and batches with the counting switched off, each batch committed. Prints the median
time per batch of each and the overhead. The scratch database is dropped at the end.
"""

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_common import REPO, drop, odoo_env, scratch_copy

CONTRACT = "edge.heartbeat"


def batch(run, number, size):
    return [
        {
            "specversion": "1.0",
            "id": f"{run}-{number}-{i}",
            "source": "bench/counters",
            "type": CONTRACT,
            "subject": f"gw-{i % 50}",
            "data": {
                "agent_version": "1.0.0",
                "backlog": i,
                "oldest_event_age_s": 3.5,
                "dead_letters": 0,
                "uptime_s": 86400,
                "clock_synchronised": True,
                "last_send_ok": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        }
        for i in range(size)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-db", required=True)
    parser.add_argument("--db", default="mfg_bench_counters")
    parser.add_argument("--conf", default=str(REPO / "run" / "odoo-test.conf"))
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=500)
    args = parser.parse_args()

    scratch_copy(args.source_db, args.db)
    try:
        with odoo_env(args.db, args.conf) as env:
            contract = env["mfg.integration.contract"].search([("code", "=", CONTRACT)])
            system = env["mfg.integration.system"].create(
                {
                    "name": "Bench gateway",
                    "code": "bench_counters",
                    "kind": "edge",
                    "allowed_contract_ids": [(6, 0, contract.ids)],
                }
            )
            env.cr.commit()
            Event = env["mfg.integration.event"]
            Traffic = type(env["mfg.integration.traffic"])
            Event._ingest(system, batch("warm", 0, args.size))
            env.cr.commit()
            run = uuid.uuid4().hex[:8]
            timings = {"with counters": [], "without counters": []}
            for number in range(2 * args.batches):
                counting = number % 2 == 0
                events = batch(run, number, args.size)
                started = time.perf_counter()
                if counting:
                    results = Event._ingest(system, events)
                else:
                    with patch.object(Traffic, "_count_ingest", lambda *_args: None):
                        results = Event._ingest(system, events)
                env.cr.commit()
                elapsed = time.perf_counter() - started
                if {r["status"] for r in results} != {"accepted"}:
                    raise SystemExit(f"batch {number} was not accepted: {results[0]}")
                key = "with counters" if counting else "without counters"
                timings[key].append(elapsed)
    finally:
        drop(args.db)

    with_ms = statistics.median(timings["with counters"]) * 1000
    without_ms = statistics.median(timings["without counters"]) * 1000
    print(f"traffic counters: {args.batches} batches of {args.size} events each way, median")
    print(f"  ingest with the counters       {with_ms:8.1f} ms per batch")
    print(f"  ingest without the counters    {without_ms:8.1f} ms per batch")
    print(f"  overhead                       {with_ms - without_ms:8.1f} ms "
          f"({(with_ms - without_ms) / without_ms * 100:+.1f} %)")  # fmt: skip


if __name__ == "__main__":
    main()
