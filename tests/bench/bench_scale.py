"""Cost as the event log grows: ingest, processing and the retention purge at 0, 1 and 5 million
stored events, side by side in one run.

    .venv/bin/python tests/bench/bench_scale.py --source-db <db with the addons installed>
        [--sizes 0,1000000,5000000] [--events 20000] [--process-events 3000] [--purge 1000000]

Copies ``--source-db`` (no open sessions) to a scratch database, then for each size, smallest
first:

1. tops the event log up to that many stored events, set-based (generate_series, 500,000 rows
   a statement): done MES-sized events of one system and source over the last 60 days, with
   random-looking ids (as the agent's hashed ids are), then vacuums and analyses as autovacuum
   would;
2. ingest: one Odoo worker, job runner off, takes ``--events`` record-only events (done once
   stored, the API's whole cost), 100 per POST from one client: events/s and the request
   latency p50/p99;
3. processing: ``--process-events`` integration.sent.summary events (a handler that writes one
   row) are stored with the job runner off; a server with its job runner (2 workers, channel
   root:2) then applies them: events/s from the first one done to the last.

Then, side by side under the same load (what else runs on the machine moves wall-clock rates
between the sizes' measurements above): ``--rounds`` rounds that each time the ingest of
``--round-events`` events on an empty copy and on the largest log, one after the other;
the median of the rounds' ratios is the fair comparison of the rates.

Then the retention purge: ``--purge`` events older than twice the retention are added, ingest
runs alone (p99 before), then beside the purge cron's function called in a loop, each call in
its own transaction, until nothing is left (p99 and the longest request during the purge, and
the purge's rate). The scratch database is dropped at the end (--keep keeps it).
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_common import REPO, drop, odoo_env, scratch_copy
from bench.bench_ingest import CONTRACT, mes_event
from odoo_server.server import OdooServer, post, summary_event

LOAD_CHUNK = 500_000
BULK_LOAD = 1_000_000
IDEMPOTENCY_INDEX = "mfg_integration_event_idempotency_key"
PER_REQUEST = 100
SOURCE = "plant1/line2/gw-01"


def sql(database, statement, params=None, fetch=False):
    with psycopg2.connect(dbname=database) as connection, connection.cursor() as cursor:
        cursor.execute(statement, params or ())
        return cursor.fetchall() if fetch else None


def database_settings(database, args):
    if args.wal_compression:
        # pylint: disable-next=sql-injection  # a benchmark's own option, names quoted
        sql(database, f"ALTER DATABASE \"{database}\" SET wal_compression = %s",
            [args.wal_compression])  # fmt: skip


def wal_position(database):
    """The cluster's current WAL position (bytes): WAL written per event, measured while
    nothing else writes much."""
    return int(sql(database, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn", fetch=True)[0][0])


def prepare(database, conf):
    """The benchmark's system (no rate limit) and its key; the MES contract record-only."""
    with odoo_env(database, conf) as env:
        contracts = env["mfg.integration.contract"].search(
            [("code", "in", (CONTRACT, "integration.sent.summary")), ("version", "=", "1.0")]
        )
        contracts.filtered(lambda c: c.code == CONTRACT).write(
            {"state": "active", "processing_mode": "record"}
        )
        system = env["mfg.integration.system"].create(
            {
                "name": "bench_scale",
                "code": "bench_scale",
                "rate_limit_per_minute": 0,
                "allowed_contract_ids": [(6, 0, contracts.ids)],
            }
        )
        key = system._generate_api_key("bench_scale")
        mes = contracts.filtered(lambda c: c.code == CONTRACT)
        return system.id, mes.id, key


def top_up(database, system_id, contract_id, have, want, days_ago=(60, 0)):
    """Stored events from ``have`` to ``want``, done, spread over ``days_ago`` in time order.

    Above BULK_LOAD rows the idempotency index is dropped for the load and built again after
    it, as one bulk-loads a table: its keys are random (hashed ids), so maintaining it row
    by row went to disk at every insert once it outgrew shared_buffers (4,500 rows/s, over
    15 minutes for 4 million rows). The ingest measured afterwards maintains it as usual."""
    oldest, newest = days_ago
    index_sql = None
    if want - have > BULK_LOAD:
        index_sql = sql(
            database,
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            [IDEMPOTENCY_INDEX],
            fetch=True,
        )[0][0]
        sql(database, f"DROP INDEX {IDEMPOTENCY_INDEX}")
    for start in range(have, want, LOAD_CHUNK):
        stop = min(want, start + LOAD_CHUNK)
        sql(
            database,
            """
            INSERT INTO mfg_integration_event (
                direction, system_id, contract_id, event_type, contract_version, event_uid,
                source, subject, sequence, correlation_id, occurred_at, received_at,
                processed_at, latency_s, payload, payload_hash, state, attempts)
            SELECT 'inbound', %(system)s, %(contract)s, %(type)s, '1.0', md5('pre' || g),
                   %(source)s, 'WH/MO/' || lpad((g %% 400)::text, 5, '0'),
                   lpad(g::text, 12, '0'), 'corr-' || (g %% 400), t.at - interval '1 second',
                   t.at, t.at + interval '1 second', 1.5,
                   jsonb_build_object('production_ref', 'WH/MO/' || (g %% 400), 'qty', 25,
                                      'uom', 'Units', 'lot', 'L2026-1123-' || (g %% 97)),
                   md5(g::text), 'done', 1
              FROM generate_series(%(start)s + 1, %(stop)s) AS g
             CROSS JOIN LATERAL (
                   SELECT now() at time zone 'utc'
                          - make_interval(days => %(oldest)s)
                          + (g - %(start0)s)::float8 / GREATEST(%(span)s, 1)
                            * make_interval(days => %(oldest)s - %(newest)s) AS at) t
            """,
            {
                "system": system_id,
                "contract": contract_id,
                "type": CONTRACT,
                "source": SOURCE,
                "start": start,
                "stop": stop,
                "start0": have,
                "span": want - have,
                "oldest": oldest,
                "newest": newest,
            },
        )
    if index_sql:
        sql(database, f"SET maintenance_work_mem = '1GB'; {index_sql}")
    subprocess.run(
        ["vacuumdb", "--analyze", "--quiet", "--table=mfg_integration_event", database],
        check=True,
    )


def interleaved(args, big_key, sizes):
    """(ratios largest/empty per round, rates) of ingest on an empty copy and on the
    largest log, one after the other in each round."""
    empty_db = f"{args.db}_empty"
    scratch_copy(args.source_db, empty_db)
    database_settings(empty_db, args)
    try:
        _system_id, _contract_id, empty_key = prepare(empty_db, args.conf)
        ratios, rates = [], []
        for _round in range(args.rounds):
            measured = {}
            for label, database, key in (("empty", empty_db, empty_key),
                                         ("largest", args.db, big_key)):  # fmt: skip
                server = server_for(database, args.conf, args.venv, args.port, False).start()
                try:
                    ingest(server, key, 500)  # warm-up
                    wal = wal_position(database)
                    count, seconds, _latencies = ingest(server, key, args.round_events)
                    measured[f"{label}_wal"] = (wal_position(database) - wal) / count
                finally:
                    server.stop()
                measured[label] = count / seconds
            ratios.append(measured["largest"] / measured["empty"])
            rates.append(measured)
            print(f"  round {_round + 1}: {measured} ratio {ratios[-1]:.2f}", flush=True)
        return ratios, rates
    finally:
        drop(empty_db)


def server_for(database, conf, venv, port, runner):
    server = OdooServer(database, conf, venv, port, workers=1 if not runner else 2)
    text = server.conf.read_text().replace("max_cron_threads = 1", "max_cron_threads = 0")
    if not runner:
        text = text.replace(
            "server_wide_modules = base,web,queue_job", "server_wide_modules = base,web"
        )
    server.conf.write_text(text)
    return server


def ingest(server, key, count, stop=None):
    """Post ``count`` record-only events (or until ``stop`` is set); returns (events, seconds,
    request latencies)."""
    run = uuid.uuid4().hex
    latencies = []
    sent = 0
    started = time.perf_counter()
    while sent < count and not (stop and stop.is_set()):
        batch = [mes_event(sent + i, run) for i in range(PER_REQUEST)]
        before = time.perf_counter()
        status, body, _headers = post(server.url, key, {"events": batch})
        latencies.append(time.perf_counter() - before)
        if status != 202 or body["accepted"] != PER_REQUEST:
            raise SystemExit(f"ingest answered {status}: {str(body)[:300]}")
        sent += PER_REQUEST
    return sent, time.perf_counter() - started, latencies


def cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of a server's worker processes and of the PostgreSQL backends of the
    scratch database (only this benchmark uses it), whatever else runs on the machine."""

    def __init__(self, server, database):
        self.server = server
        self.database = database

    def _pids(self):
        backends = [
            pid
            for (pid,) in sql(
                self.database,
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()",
                fetch=True,
            )
        ]
        return self.server.worker_pids(), backends

    def __enter__(self):
        self.workers, self.backends = self._pids()
        self.start = {pid: cpu_seconds(pid) for pid in self.workers + self.backends}
        return self

    def stop(self):
        """(Odoo seconds, PostgreSQL seconds) since the start, of the processes seen then."""
        odoo = sum(cpu_seconds(pid) - self.start[pid] for pid in self.workers)
        postgres = sum(cpu_seconds(pid) - self.start[pid] for pid in self.backends)
        return max(odoo, 0.0), max(postgres, 0.0)

    def __exit__(self, *_exc):
        return False


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def process(args, port, key, system_id, count):
    """Store ``count`` summary events with the runner off, then time a server with its runner
    applying them."""
    server = server_for(args.db, args.conf, args.venv, port, runner=False).start()
    source = f"plant1/scale-{uuid.uuid4().hex[:6]}"
    try:
        events = [summary_event(i, source=source) for i in range(count)]
        for start in range(0, count, 500):
            status, body, _headers = post(server.url, key, {"events": events[start : start + 500]})
            if status != 202:
                raise SystemExit(f"storing summary events answered {status}: {str(body)[:300]}")
    finally:
        server.stop()

    def done():
        return sql(
            args.db,
            # through the idempotency key's partial index (direction named): without it, this
            # poll read the whole log, 0.5-0.8 s of a core five times a second at 5 million
            # events, and starved the workers it measures
            "SELECT count(*) FROM mfg_integration_event WHERE system_id = %s AND source = %s"
            " AND direction = 'inbound' AND state = 'done'",
            [system_id, source],
            fetch=True,
        )[0][0]

    runner = server_for(args.db, args.conf, args.venv, port, runner=True).start()
    try:
        # from the first event done to the last: the server's start is not processing
        deadline = time.perf_counter() + 1800
        while (first := done()) == 0 and time.perf_counter() < deadline:
            time.sleep(0.2)
        started = time.perf_counter()
        meter = CpuMeter(runner, args.db).__enter__()
        while (last := done()) < count and time.perf_counter() < deadline:
            time.sleep(0.2)
        if last < count:
            raise SystemExit("processing did not finish in 30 minutes")
        elapsed = time.perf_counter() - started
        odoo_cpu, postgres_cpu = meter.stop()
    finally:
        runner.stop()
    processed = count - first
    if processed < count / 2:
        raise SystemExit("raise --process-events: most were done before the first sample")
    return processed / elapsed, odoo_cpu / processed * 1000, postgres_cpu / processed * 1000


def purge_during_ingest(args, port, key, system_id, contract_id, have):
    """Ingest alone, then beside the retention purge of ``--purge`` old events."""
    retention = sql(
        args.db, "SELECT retention_days FROM mfg_integration_system WHERE id = %s", [system_id],
        fetch=True,
    )[0][0]  # fmt: skip
    # older than twice the retention: payloads purged, then rows deleted
    top_up(args.db, system_id, contract_id, have, have + args.purge,
           days_ago=(3 * retention, 2 * retention + 1))  # fmt: skip
    server = server_for(args.db, args.conf, args.venv, port, runner=False).start()
    try:
        ingest(server, key, 1000)  # warm-up: registry, caches, connections
        _n, _s, before = ingest(server, key, args.events)
        stop = threading.Event()
        outcome = {}

        def purge():
            started = time.perf_counter()
            purged = deleted = calls = 0
            while True:
                with odoo_env(args.db, args.conf) as env:
                    batch = env["mfg.integration.event"]._cron_purge_payloads()
                calls += 1
                purged += batch[0]
                deleted += batch[1]
                if batch == (0, 0):
                    break
            outcome.update(
                purged=purged, deleted=deleted, calls=calls, seconds=time.perf_counter() - started
            )
            stop.set()

        purger = threading.Thread(target=purge)
        purger.start()
        _n, _s, during = ingest(server, key, 10**9, stop=stop)
        purger.join()
    finally:
        server.stop()
    return before, during, outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-db", required=True)
    parser.add_argument("--db", default="mfg_bench_scale")
    parser.add_argument("--conf", default=str(REPO / "run" / "odoo-test.conf"))
    parser.add_argument("--venv", default=str(REPO / ".venv"))
    parser.add_argument("--port", type=int, default=8197)
    parser.add_argument("--sizes", default="0,1000000,5000000")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--process-events", type=int, default=3000)
    parser.add_argument("--purge", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved ingest rounds")
    parser.add_argument(
        "--wal-compression",
        default="",
        help="wal_compression for the scratch databases' sessions (e.g. lz4; superuser)",
    )
    parser.add_argument("--round-events", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    scratch_copy(args.source_db, args.db)
    database_settings(args.db, args)
    rows = []
    try:
        system_id, contract_id, key = prepare(args.db, args.conf)
        have = 0
        for size in sizes:
            load_started = time.perf_counter()
            top_up(args.db, system_id, contract_id, have, size)
            loaded_s = time.perf_counter() - load_started
            have = size
            server = server_for(args.db, args.conf, args.venv, args.port, runner=False).start()
            try:
                ingest(server, key, 1000)  # warm-up: registry, caches, connections
                wal = wal_position(args.db)
                with CpuMeter(server, args.db) as meter:
                    count, seconds, latencies = ingest(server, key, args.events)
                    odoo_cpu, postgres_cpu = meter.stop()
                wal_per_event = (wal_position(args.db) - wal) / count
            finally:
                server.stop()
            have += count + 1000
            processing_rate, process_odoo_1k, process_postgres_1k = process(
                args, args.port, key, system_id, args.process_events
            )
            have += args.process_events
            stored = sql(args.db, "SELECT count(*) FROM mfg_integration_event", fetch=True)[0][0]
            size_mb, payload_mb = sql(
                args.db,
                "SELECT pg_total_relation_size('mfg_integration_event') / 1e6,"
                " (SELECT COALESCE(SUM(pg_column_size(payload)), 0) / 1e6"
                " FROM mfg_integration_event)",
                fetch=True,
            )[0]
            rows.append(
                {
                    "size": size,
                    "stored": stored,
                    "table_mb": float(size_mb),
                    "payload_mb": float(payload_mb),
                    "loaded_s": loaded_s,
                    "ingest": count / seconds,
                    "p50": statistics.median(latencies),
                    "p99": quantile(latencies, 0.99),
                    "odoo_cpu_per_1k": odoo_cpu / count * 1000,
                    "postgres_cpu_per_1k": postgres_cpu / count * 1000,
                    "wal_per_event": wal_per_event,
                    "processing": processing_rate,
                    "process_odoo_cpu_per_1k": process_odoo_1k,
                    "process_postgres_cpu_per_1k": process_postgres_1k,
                }
            )
            print(f"  size {size}: {rows[-1]}", flush=True)
        side_by_side = None
        if args.rounds and len(sizes) > 1:
            side_by_side = interleaved(args, key, sizes)
        purge = None
        if args.purge:
            purge = purge_during_ingest(args, args.port, key, system_id, contract_id, have)
    finally:
        if not args.keep:
            drop(args.db)

    empty = rows[0]
    print(
        f"scale benchmark: {PER_REQUEST} events per POST, one Odoo worker for ingest;"
        f" load average {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores"
    )
    largest = rows[-1]
    print(
        f"  disk: {largest['table_mb'] / largest['stored'] * 1e6:,.0f} MB per million events"
        f" (table, TOAST and indexes), of which payloads"
        f" {largest['payload_mb'] / largest['stored'] * 1e6:,.0f} MB"
    )
    print(
        "  stored events   table MB   ingest ev/s (x empty)   p50 ms   p99 ms"
        "   processing ev/s (x empty)"
    )
    for row in rows:
        print(
            f"  {row['stored']:>13,} {row['table_mb']:>10,.0f} {row['ingest']:>11.0f}"
            f" ({row['ingest'] / empty['ingest']:4.2f})   {row['p50'] * 1000:6.0f}"
            f"   {row['p99'] * 1000:6.0f}   {row['processing']:>10.0f}"
            f" ({row['processing'] / empty['processing']:4.2f})"
        )
    print(
        "  WAL written per event ingested: "
        + ", ".join(f"{row['stored']:,} stored {row['wal_per_event']:,.0f} bytes" for row in rows)
    )
    print(
        "  CPU seconds per 1,000 events ingested (the Odoo worker / its PostgreSQL backends): "
        + ", ".join(
            f"{row['stored']:,} stored {row['odoo_cpu_per_1k']:.2f}"
            f" / {row['postgres_cpu_per_1k']:.2f}"
            for row in rows
        )
    )
    print(
        "  CPU seconds per 1,000 events processed (the Odoo workers / their PostgreSQL"
        " backends): "
        + ", ".join(
            f"{row['stored']:,} stored {row['process_odoo_cpu_per_1k']:.2f}"
            f" / {row['process_postgres_cpu_per_1k']:.2f}"
            for row in rows
        )
    )
    if side_by_side:
        ratios, rates = side_by_side
        print(
            f"  side by side, {args.rounds} rounds of {args.round_events:,} events: ingest on"
            f" {rows[-1]['stored']:,} stored / on an empty inbox = "
            + ", ".join(f"{ratio:.2f}" for ratio in ratios)
            + f" (median {statistics.median(ratios):.2f}); events/s empty "
            + ", ".join(f"{r['empty']:.0f}" for r in rates)
            + ", largest "
            + ", ".join(f"{r['largest']:.0f}" for r in rates)
            + "; WAL bytes per event empty "
            + ", ".join(f"{r['empty_wal']:,.0f}" for r in rates)
            + ", largest "
            + ", ".join(f"{r['largest_wal']:,.0f}" for r in rates)
        )
    if purge:
        before, during, outcome = purge
        print(
            f"  retention purge of {args.purge:,} old events: {outcome['purged']:,} payloads"
            f" purged, {outcome['deleted']:,} rows deleted in {outcome['seconds']:.0f} s"
            f" ({outcome['calls']} calls of the cron's function)"
        )
        print(
            f"  ingest p99 before {quantile(before, 0.99) * 1000:.0f} ms, during"
            f" {quantile(during, 0.99) * 1000:.0f} ms; longest request during"
            f" {max(during) * 1000:.0f} ms ({len(during)} requests)"
        )


if __name__ == "__main__":
    main()
