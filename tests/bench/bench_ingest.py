"""Ingest benchmark: our batched REST ingest vs the naive way, and PostgreSQL's own ceiling.

Run against a database that has the addons installed (./setup/run.sh makes mfg_demo):

    .venv/bin/python tests/bench/bench_ingest.py [--db mfg_demo] [--events 20000]

It starts its own Odoo server with ONE worker on a spare port (job runner off, so the
CPU measured is the ingest's own: events are validated, stored and enqueued as jobs, but
not processed here), and prints, side by side:

* batched ingest: POST /mfg/v1/events, 500 MES-sized events per request;
* the naive way: one XML-RPC ``create`` per event on the event model;
* PostgreSQL's ceiling: the same rows through psycopg2 ``INSERT … ON CONFLICT`` in 500s.
"""

import argparse
import json
import os
import sys
import time
import uuid
import xmlrpc.client
from pathlib import Path

import psycopg2
from psycopg2.extras import execute_values

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from odoo_server.server import OdooServer, post

REPO = Path(__file__).resolve().parents[2]
CONTRACT = "mes.production.completed"
# Events occur when the benchmark runs (a fixed date would turn every latency into days).
STARTED_AT = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def mes_event(index, run):
    return {
        "specversion": "1.0",
        "id": f"{run}-{index}",
        "source": "plant1/line2/gw-01",
        "type": CONTRACT,
        "dataschema": f"urn:mfg:contract:{CONTRACT}:1.0",
        "time": STARTED_AT,
        "subject": f"WH/MO/{index % 400:05d}",
        "sequence": f"{index:012d}",
        "correlationid": f"corr-{index % 400}",
        "data": {
            "production_ref": f"WH/MO/{index % 400:05d}",
            "qty": 25,
            "uom": "Units",
            "lot": f"L2026-1123-{index % 97:02d}",
        },
    }


def bench_batched(server, key, events, batch=500):
    started = time.perf_counter()
    accepted = 0
    for start in range(0, len(events), batch):
        status, body, _headers = post(server.url, key, {"events": events[start : start + batch]})
        if status != 202:
            raise SystemExit(f"batched ingest answered {status}: {str(body)[:300]}")
        accepted += body["accepted"]
    return accepted, time.perf_counter() - started


def bench_naive(server, system_id, contract_id, events):
    common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
    uid = common.authenticate(server.database, "admin", "admin", {})
    models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object", allow_none=True)
    started = time.perf_counter()
    for event in events:
        models.execute_kw(
            server.database,
            uid,
            "admin",
            "mfg.integration.event",
            "create",
            [
                {
                    "system_id": system_id,
                    "contract_id": contract_id,
                    "event_type": event["type"],
                    "event_uid": event["id"],
                    "source": event["source"],
                    "subject": event["subject"],
                    "sequence": event["sequence"],
                    "correlation_id": event["correlationid"],
                    "payload": event["data"],
                    "state": "received",
                }
            ],
        )
    return len(events), time.perf_counter() - started


def bench_postgres(database, system_id, contract_id, events, batch=500):
    connection = psycopg2.connect(dbname=database)
    rows = [
        (
            "inbound",
            system_id,
            contract_id,
            event["type"],
            event["id"],
            event["source"],
            event["subject"],
            event["sequence"],
            json.dumps(event["data"]),
            "queued",
        )
        for event in events
    ]
    with connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_event")
        cursor.execute(
            "CREATE TABLE bench_raw_event (LIKE mfg_integration_event INCLUDING DEFAULTS "
            "INCLUDING INDEXES)"
        )
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        with connection, connection.cursor() as cursor:
            execute_values(
                cursor,
                "INSERT INTO bench_raw_event (direction, system_id, contract_id, event_type, "
                "event_uid, source, subject, sequence, payload, state) VALUES %s "
                "ON CONFLICT (system_id, source, event_uid) "
                "WHERE direction = 'inbound' AND state <> 'rejected' DO NOTHING",
                rows[start : start + batch],
                template="(%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s)",
                page_size=batch,
            )
    elapsed = time.perf_counter() - started
    with connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_event")
    connection.close()
    return len(rows), elapsed


def activate_for_ingest(database):
    """(id, state) of the benchmark's contract, made active for the run: it ships as draft
    until its MES flow exists, and the benchmark measures ingest, not processing."""
    with psycopg2.connect(dbname=database) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, state FROM mfg_integration_contract WHERE code = %s AND version = '1.0'",
            [CONTRACT],
        )
        contract_id, state = cursor.fetchone()
    set_contract_state(database, contract_id, "active")
    return contract_id, state


def set_contract_state(database, contract_id, state):
    with psycopg2.connect(dbname=database) as connection, connection.cursor() as cursor:
        cursor.execute(
            "UPDATE mfg_integration_contract SET state = %s WHERE id = %s", [state, contract_id]
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=os.environ.get("MFG_DB", "mfg_demo"))
    parser.add_argument("--conf", default=str(REPO / "run" / "odoo.conf"))
    parser.add_argument("--venv", default=str(REPO / ".venv"))
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--naive-events", type=int, default=300)
    args = parser.parse_args()

    server = OdooServer(args.db, args.conf, args.venv, args.port, workers=1)
    # no job runner: the benchmark measures ingest, not processing
    text = server.conf.read_text().replace(
        "server_wide_modules = base,web,queue_job", "server_wide_modules = base,web"
    )
    server.conf.write_text(text)
    contract_id, shipped_state = activate_for_ingest(args.db)
    try:
        server.start()
        run = uuid.uuid4().hex[:8]
        system_id, key = server.create_system("bench_ingest", [CONTRACT], rate_limit_per_minute=0)
        events = [mes_event(i, run) for i in range(args.events)]
        bench_batched(server, key, [mes_event(i, run + "w") for i in range(1000)])  # warm-up
        batched_n, batched_s = bench_batched(server, key, events)
        naive_events = [mes_event(i, run + "n") for i in range(args.naive_events)]
        naive_n, naive_s = bench_naive(server, system_id, contract_id, naive_events)
        raw_events = [mes_event(i, run + "p") for i in range(args.events)]
        raw_n, raw_s = bench_postgres(args.db, system_id, contract_id, raw_events)
    finally:
        server.stop()
        if shipped_state != "active":
            set_contract_state(args.db, contract_id, shipped_state)

    batched_rate = batched_n / batched_s
    naive_rate = naive_n / naive_s
    raw_rate = raw_n / raw_s
    print(f"ingest benchmark on {args.db}: one Odoo worker, {os.cpu_count()} cores")
    print(
        f"  batched REST ingest (500/request) {batched_rate:10.0f} events/s  ({batched_n} events)"
    )
    print(f"  naive XML-RPC create per event    {naive_rate:10.0f} events/s  ({naive_n} events)")
    print(f"  PostgreSQL batched INSERT ceiling {raw_rate:10.0f} rows/s    ({raw_n} rows)")
    print(f"  batched / naive                   {batched_rate / naive_rate:10.1f} x")
    print(f"  batched / PostgreSQL ceiling      {batched_rate / raw_rate:10.2f}")


if __name__ == "__main__":
    main()
