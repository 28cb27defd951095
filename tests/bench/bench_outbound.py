"""Outbound delivery benchmark: the outbox's dispatcher vs one queue_job per event.

    .venv/bin/python tests/bench/bench_outbound.py [--db mfg_bench_outbound] [--events 5000]

It starts its own Odoo server (2 workers, the queue_job runner with root:2) on a spare
port, with the baseline addon of tests/bench/addons on its addons path (installed into
the benchmark database first, created if missing), and a receiver on 127.0.0.1 that
answers 200 at once. It prints delivered events/s, from the first emit to the last event
recorded as delivered, for:

* the outbox, batched: a contract that allows batch delivery, 100 events per request;
* the outbox, one request per event: 4 keep-alive connections, in order per subject;
* the naive way: one queue_job per event, each doing one fresh signed POST.

The machine's load average before and after is printed too: on a shared machine the
figures move with it.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
import xmlrpc.client
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from odoo_server.server import OdooServer, query
from odoo_server.webhook_receiver import FaultyReceiver

REPO = Path(__file__).resolve().parents[2]
BENCH_ADDONS = Path(__file__).resolve().parent / "addons"
BASELINE_MODULE = "mfg_bench_naive_outbound"
SECRET = "whsec_YmVuY2gtb3V0Ym91bmQtc2lnbmluZy1zZWNyZXQ="
SCHEMA = json.dumps(
    {
        "type": "object",
        "required": ["production_ref", "qty"],
        "properties": {
            "production_ref": {"type": "string"},
            "qty": {"type": "number"},
            "uom": {"type": "string"},
            "lot": {"type": "string"},
        },
    }
)


def receiver_count(receiver, ids):
    with receiver.lock:
        return len(receiver.event_ids & ids)


def ensure_database(args):
    """The benchmark database with our base addon and the baseline addon installed."""
    addons_path = _addons_path(args.conf)
    exists = bool(query("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", [args.db]))
    installed = (
        exists
        and query(
            args.db,
            "SELECT count(*) FROM ir_module_module WHERE name = %s AND state = 'installed'",
            [BASELINE_MODULE],
        )[0][0]
    )
    if installed and not args.update:
        return
    print(f"installing mfg_integration_base and the baseline into {args.db} ...", flush=True)
    command = [
        str(Path(args.venv) / "bin" / "odoo"),
        "-c",
        args.conf,
        "-d",
        args.db,
        f"--addons-path={addons_path}",
        "-i",
        f"mfg_integration_base,{BASELINE_MODULE}",
        "--without-demo=all",
        "--stop-after-init",
        "--no-http",
        f"--logfile={REPO / 'run' / 'logs' / 'bench-outbound-install.log'}",
    ]
    if args.update:
        command += ["-u", "mfg_integration_base"]
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)


def clear_leftovers(database):
    """A second run on the same database must not inherit the first one's work: jobs that never
    finished (the naive baseline's POSTs to a receiver that is gone, retried with backoff) would
    hold queue_job's two channels and nothing of this run would be delivered. The database is
    the benchmark's own; outbound events of earlier runs left undelivered are discarded too."""
    with psycopg2.connect(dbname=database) as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM queue_job WHERE state NOT IN ('done', 'cancelled')")
        jobs = cursor.rowcount
        cursor.execute(
            "UPDATE mfg_integration_event SET state = 'discarded'"
            " WHERE direction = 'outbound' AND state NOT IN ('done', 'discarded', 'dead')"
        )
        events = cursor.rowcount
    if jobs or events:
        print(f"cleared {jobs} unfinished jobs and {events} undelivered events of earlier runs")


def _addons_path(conf):
    for line in Path(conf).read_text().splitlines():
        if line.split("=")[0].strip() == "addons_path":
            return line.split("=", 1)[1].strip() + f",{BENCH_ADDONS}"
    raise SystemExit(f"{conf} has no addons_path")


class Bench:
    def __init__(self, server):
        self.server = server
        self.uid = server.admin_uid()
        self.models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object", allow_none=True)

    def call(self, model, method, *args, **kwargs):
        return self.models.execute_kw(
            self.server.database, self.uid, "admin", model, method, list(args), kwargs
        )

    def contract(self, code, batch):
        found = self.call("mfg.integration.contract", "search", [("code", "=", code)])
        if found:
            return found[0]
        return self.call(
            "mfg.integration.contract",
            "create",
            {
                "name": code,
                "code": code,
                "version": "1.0",
                "direction": "outbound",
                "schema": SCHEMA,
                "state": "active",
                "batch_delivery": batch,
            },
        )

    def system(self, contract_id, url, **values):
        code = f"bench_out_{uuid.uuid4().hex[:6]}"
        return code, self.call(
            "mfg.integration.system",
            "create",
            dict(
                {
                    "name": code,
                    "code": code,
                    "allowed_contract_ids": [(6, 0, [contract_id])],
                    "outbound_adapter": "webhook",
                    "outbound_url": url,
                    "signing_secret": SECRET,
                    "rate_limit_per_minute": 0,
                },
                **values,
            ),
        )


def items(count, subjects):
    return [
        {
            "data": {
                "production_ref": f"WH/MO/{n % subjects:05d}",
                "qty": 25,
                "uom": "Units",
                "lot": f"L2026-1123-{n % 97:02d}",
            },
            "subject": f"WH/MO/{n % subjects:05d}",
            "correlation_id": f"corr-{n % subjects}",
        }
        for n in range(count)
    ]


def bench_outbox(bench, receiver, code, contract, count, subjects, per_call=500, timeout=600):
    """Seconds from the first emit to the last event recorded delivered."""
    database = bench.server.database
    sql = (
        "SELECT count(*) FROM mfg_integration_event e JOIN mfg_integration_system s "
        "ON s.id = e.system_id WHERE s.code = %s AND e.state = 'done'"
    )
    done_before = query(database, sql, [code])[0][0]
    started = time.perf_counter()
    ids = []
    all_items = items(count, subjects)
    for start in range(0, count, per_call):
        ids += bench.call(
            "mfg.integration.event",
            "api_emit",
            contract,
            all_items[start : start + per_call],
            systems=[code],
        )
    emitted = time.perf_counter() - started
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = query(database, sql, [code])[0][0] - done_before
        if done >= count:
            break
        time.sleep(0.05)
    else:
        raise SystemExit(f"outbox of {code}: only {done} of {count} delivered in {timeout} s")
    elapsed = time.perf_counter() - started
    assert receiver_count(receiver, set(ids)) == count
    return count, elapsed, emitted


def bench_naive(bench, receiver, count, subjects, per_call=500, timeout=600):
    run = uuid.uuid4().hex[:8]
    envelopes = [
        {
            "specversion": "1.0",
            "id": f"naive-{run}-{n}",
            "source": "odoo/bench",
            "type": "bench.widget.single",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "subject": item["subject"],
            "sequence": f"{n // subjects + 1:012d}",
            "correlationid": item["correlation_id"],
            "data": item["data"],
        }
        for n, item in enumerate(items(count, subjects))
    ]
    ids = {envelope["id"] for envelope in envelopes}
    started = time.perf_counter()
    for start in range(0, count, per_call):
        bench.call(
            "mfg.integration.event",
            "bench_enqueue_naive",
            receiver.url,
            SECRET,
            envelopes[start : start + per_call],
        )
    emitted = time.perf_counter() - started
    deadline = time.monotonic() + timeout
    while receiver_count(receiver, ids) < count:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"naive: only {receiver_count(receiver, ids)} of {count} in {timeout} s"
            )
        time.sleep(0.05)
    return count, time.perf_counter() - started, emitted


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=os.environ.get("MFG_BENCH_DB", "mfg_bench_outbound"))
    parser.add_argument("--conf", default=str(REPO / "run" / "odoo.conf"))
    parser.add_argument("--venv", default=str(REPO / ".venv"))
    parser.add_argument("--port", type=int, default=8198)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--naive-events", type=int, default=1000)
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--update", action="store_true", help="upgrade mfg_integration_base")
    args = parser.parse_args()

    ensure_database(args)
    clear_leftovers(args.db)
    server = OdooServer(args.db, args.conf, args.venv, args.port, workers=2)
    text = server.conf.read_text()
    server.conf.write_text(
        "\n".join(
            f"addons_path = {_addons_path(args.conf)}" if line.startswith("addons_path") else line
            for line in text.splitlines()
        )
        + "\n"
    )
    # answers 200 at once, after checking the signature, as a real receiver would
    receiver = FaultyReceiver(SECRET, read_timeout=30, fault_scale=0).start()
    load_before = os.getloadavg()
    server.start()
    try:
        bench = Bench(server)
        batched = bench.contract("bench.widget.batched", True)
        single = bench.contract("bench.widget.single", False)
        batched_code, _id = bench.system(batched, receiver.url, outbound_batch_size=100)
        single_code, _id = bench.system(single, receiver.url, outbound_parallel=4)
        bench_outbox(bench, receiver, batched_code, "bench.widget.batched", 500, 50)  # warm-up
        results = {
            "batched": bench_outbox(
                bench, receiver, batched_code, "bench.widget.batched", args.events, args.subjects
            ),
            "single": bench_outbox(
                bench, receiver, single_code, "bench.widget.single", args.events, args.subjects
            ),
            "naive": bench_naive(bench, receiver, args.naive_events, args.subjects),
        }
    finally:
        server.stop()
        receiver.stop()
    load_after = os.getloadavg()
    if receiver.bad_signatures:
        raise SystemExit(f"{receiver.bad_signatures} deliveries had a bad signature")
    psycopg2.connect(dbname=args.db).close()

    rates = {name: count / elapsed for name, (count, elapsed, _e) in results.items()}
    print(
        f"outbound benchmark on {args.db}: 2 Odoo workers, queue_job root:2, {os.cpu_count()} cores"
    )
    print(f"  receiver: {receiver.requests} requests, every signature verified")
    print(f"  load average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min)")
    labels = {
        "batched": "outbox, batched (100/request)",
        "single": "outbox, one request per event",
        "naive": "naive: one job + one POST per event",
    }
    for name, (count, elapsed, emitted) in results.items():
        print(
            f"  {labels[name]:38s} {rates[name]:8.0f} events/s  ({count} events, "
            f"{elapsed:.1f} s, of which emit/enqueue {emitted:.1f} s)"
        )
    print(f"  outbox batched / naive               {rates['batched'] / rates['naive']:8.1f} x")
    print(f"  outbox one per request / naive       {rates['single'] / rates['naive']:8.1f} x")


if __name__ == "__main__":
    main()
