"""Edge agent benchmark (a script, not a test): run with the edge venv's python.

    .venv-edge/bin/python tests/bench/bench_edge.py [--quick]

Measures, each next to the naive way in the same run:
  1. sustained MQTT in -> store -> HTTP out, the real `mfg-edge run` process end to end
  2. ingest only (in process): msgs/s and p99 arrival-to-durable, group commit vs one
     INSERT+commit per message (both synchronous=FULL)
  3. drain of a 100,000-event backlog: batched POSTs vs one POST per event
  4. RSS of the agent with 1,000,000 events buffered, and the store's bytes per event
Needs Mosquitto (it starts its own on a free port). Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "edge"))

from edge_harness import API_KEY, Broker, free_port, prime_session  # noqa: E402
from edge_receiver import Receiver  # noqa: E402

from mfg_edge.clock import ClockWatch  # noqa: E402
from mfg_edge.ingest import Ingestor  # noqa: E402
from mfg_edge.metrics import Metrics  # noqa: E402
from mfg_edge.rules import Event, RuleSet, format_timestamp  # noqa: E402
from mfg_edge.sender import Sender  # noqa: E402
from mfg_edge.sources.mqtt import MqttSource  # noqa: E402
from mfg_edge.store import Store  # noqa: E402

RULE = {
    "name": "completed",
    "source": "mqtt",
    "topic": "plant1/+/mes/completed",
    "type": "mes.production.completed",
    "version": "1.0",
    "subject": "{payload.work_order}",
    "message_id": "payload.msg_id",
    "time": "payload.ts",
    "correlationid": "{payload.work_order}",
    "data": {
        "production_ref": "payload.work_order",
        "qty": {"selector": "payload.qty", "as": "number"},
        "uom": "payload.uom",
        "lot": "payload.lot",
    },
}


def payload(n: int, tag: str) -> bytes:
    return json.dumps(
        {
            "msg_id": f"{tag}-{n}",
            "ts": "2026-11-23T08:15:02.120Z",
            "work_order": f"WH/MO/{n % 500:05d}",
            "product": "FURN_8888",
            "qty": 25,
            "uom": "Units",
            "lot": f"L2026-1123-{n % 97:02d}",
        }
    ).encode()


# ---------------------------------------------------------------------------- helper processes
def _publisher_main(port: int, count: int, rate: float, tag: str, done) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{tag}-{os.getpid()}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.monotonic()
    infos = []
    for n in range(count):
        infos.append(client.publish("plant1/line1/mes/completed", payload(n, tag), qos=1))
        if rate:
            ahead = (n + 1) / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    for info in infos:
        info.wait_for_publish(120)
    done.value = time.monotonic() - start
    client.disconnect()
    client.loop_stop()


def _receiver_main(port_holder, stop) -> None:
    receiver = Receiver(api_key=API_KEY).start()
    port_holder.value = receiver.port
    stop.wait()
    receiver.stop()


def receiver_stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_test/stats", timeout=5) as answer:
        return json.loads(answer.read())


class ReceiverProcess:
    """The receiver in its own process, so its JSON work does not share the agent's GIL."""

    def __enter__(self):
        self.port = multiprocessing.Value("i", 0)
        self.stop = multiprocessing.Event()
        self.process = multiprocessing.Process(target=_receiver_main, args=(self.port, self.stop))
        self.process.start()
        while self.port.value == 0:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.process.join(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------- 1. end to end
def bench_end_to_end(work: Path, count: int, preload: bool = False) -> dict:
    """preload=False: the publisher runs while the agent works (both share the CPU).
    preload=True: the broker holds `count` queued messages before the agent starts, so the
    agent's own rate is measured without a Python publisher competing for the two cores."""
    label = "e2e-pre" if preload else "e2e"
    broker = Broker(work / f"broker-{label}").start()
    results = {}
    try:
        with ReceiverProcess() as receiver:
            prime_session(broker.port, f"bench-{label}", ["plant1/+/mes/completed"])
            config = work / f"{label}.yaml"
            config.write_text(
                json.dumps(
                    {
                        "agent": {
                            "source": "plant1/gw-bench",
                            "data_dir": str(work / f"{label}-data"),
                            "heartbeat_interval_s": 3600,
                        },
                        "odoo": {
                            "url": f"http://127.0.0.1:{receiver.port.value}",
                            "batch_size": 1000,
                        },
                        "metrics": {"port": 0},
                        "mqtt": {
                            "host": "127.0.0.1",
                            "port": broker.port,
                            "client_id": f"bench-{label}",
                        },
                        "rules": [RULE],
                    }
                )
            )
            env = dict(os.environ, MFG_EDGE_API_KEY=API_KEY)
            done = multiprocessing.Value("d", 0.0)
            publisher = multiprocessing.Process(
                target=_publisher_main, args=(broker.port, count, 0, label, done)
            )
            if preload:
                publisher.start()
                publisher.join(600)
            log = open(work / f"{label}-agent.log", "ab")  # noqa: SIM115 - closed below
            agent = subprocess.Popen(
                [sys.executable, "-m", "mfg_edge.cli", "run", "-c", str(config)],
                stdout=log,
                stderr=log,
                env=env,
            )
            if preload:
                while receiver_stats(receiver.port.value)["applied"] == 0:
                    time.sleep(0.01)  # start the clock at the first delivery (startup excluded)
            else:
                time.sleep(2.0)
            start = time.monotonic()
            if not preload:
                publisher.start()
            peak_rss = 0.0
            cpu_before = cpu_seconds(agent.pid)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                applied = receiver_stats(receiver.port.value)["applied"]
                peak_rss = max(peak_rss, rss_mb(agent.pid))
                if applied >= count:
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - start
            cpu_used = cpu_seconds(agent.pid) - cpu_before
            publisher.join(60)
            agent.terminate()
            agent.wait(30)
            log.close()
            stats = receiver_stats(receiver.port.value)
            results = {
                "messages": count,
                "applied": stats["applied"],
                "elapsed_s": elapsed,
                "publish_s": done.value,
                "rate": stats["applied"] / elapsed,
                "agent_peak_rss_mb": peak_rss,
                "agent_cpu_us_per_msg": cpu_used / max(1, stats["applied"]) * 1e6,
            }
    finally:
        broker.stop()
    return results


# ---------------------------------------------------------------------------- 2. ingest only
def bench_ingest(
    work: Path, count: int, max_messages: int, rate: float, label: str, burst: int = 1000
) -> dict:
    broker = Broker(work / f"broker-{label}").start()
    try:
        client_id = f"bench-{label}"[:23]
        prime_session(broker.port, client_id, ["plant1/+/mes/completed"])
        metrics = Metrics()
        store = Store(work / f"ingest-{label}.sqlite3", metrics=metrics)
        ingestor = Ingestor(
            store,
            metrics,
            max_messages=max_messages,
            burst_messages=burst,
            max_ms=50,
            latency_samples=count,
        )
        ingestor.start()
        source = MqttSource(
            {"host": "127.0.0.1", "port": broker.port, "client_id": client_id},
            RuleSet([RULE]),
            ingestor,
            ClockWatch(),
            metrics,
            "plant1/gw-bench",
        )
        source.start()
        time.sleep(1.0)
        done = multiprocessing.Value("d", 0.0)
        start = time.monotonic()
        publisher = multiprocessing.Process(
            target=_publisher_main, args=(broker.port, count, rate, label, done)
        )
        publisher.start()
        deadline = time.monotonic() + 900
        while store.count < count and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = time.monotonic() - start
        publisher.join(60)
        source.stop()
        ingestor.stop()
        latencies = sorted(ingestor.latencies)
        stored = store.count
        store.close()
    finally:
        broker.stop()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    return {
        "label": label,
        "messages": count,
        "stored": stored,
        "elapsed_s": elapsed,
        "rate": stored / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": p99 * 1000,
        "offered_rate": rate or "max",
    }


# ---------------------------------------------------------------------------- 3. drain
def make_event(n: int, now: float) -> Event:
    envelope = {
        "specversion": "1.0",
        "id": f"{n:08x}-0000-5000-8000-000000000000",
        "source": "plant1/gw-bench",
        "type": "mes.production.completed",
        "dataschema": "urn:mfg:contract:mes.production.completed:1.0",
        "time": format_timestamp(now),
        "subject": f"WH/MO/{n % 500:05d}",
        "datacontenttype": "application/json",
        "receivedtime": format_timestamp(now),
        "correlationid": f"WH/MO/{n % 500:05d}",
        "data": {
            "production_ref": f"WH/MO/{n % 500:05d}",
            "qty": 25,
            "uom": "Units",
            "lot": f"L2026-1123-{n % 97:02d}",
        },
    }
    return Event(
        envelope["id"], envelope["type"], envelope["subject"], "transactional", envelope, now, now
    )


def fill_store(path: Path, count: int, chunk: int = 10000) -> Store:
    store = Store(path, max_events=count + 10, max_bytes=10**12)
    now = time.time()
    for start in range(0, count, chunk):
        store.insert([make_event(n, now) for n in range(start, min(count, start + chunk))])
    return store


def bench_drain(work: Path, count: int, batch_size: int, label: str) -> dict:
    store = fill_store(work / f"drain-{label}.sqlite3", count)
    with ReceiverProcess() as receiver:
        metrics = Metrics()
        sender = Sender(
            store=store,
            url=f"http://127.0.0.1:{receiver.port.value}",
            api_key=API_KEY,
            source="plant1/gw-bench",
            metrics=metrics,
            clock=ClockWatch(),
            batch_size=batch_size,
            heartbeat_interval_s=3600,
        )
        sender._next_heartbeat = float("inf")
        start = time.monotonic()
        while store.count > 0:
            wait = sender._step()
            if wait > 0.5 and store.count > 0:
                raise RuntimeError(f"drain stalled: {sender.state}")
        elapsed = time.monotonic() - start
        applied = receiver_stats(receiver.port.value)["applied"]
    store.close()
    return {
        "label": label,
        "events": count,
        "applied": applied,
        "elapsed_s": elapsed,
        "rate": count / elapsed,
    }


# ---------------------------------------------------------------------------- 4. RSS, bytes/event
def bench_buffered(work: Path, count: int) -> dict:
    data = work / "big-data"
    data.mkdir()
    started = time.monotonic()
    store = fill_store(data / "events.sqlite3", count, chunk=20000)
    fill_s = time.monotonic() - started
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    file_bytes = store.file_bytes()
    store.close()
    broker = Broker(work / "broker-rss").start()
    try:
        config = work / "rss.yaml"
        config.write_text(
            json.dumps(
                {
                    "agent": {
                        "source": "plant1/gw-bench",
                        "data_dir": str(data),
                        "heartbeat_interval_s": 3600,
                    },
                    # Odoo is "down" (nothing listens): the agent holds the whole backlog.
                    "odoo": {"url": f"http://127.0.0.1:{free_port()}", "backoff_max_s": 2},
                    "store": {"max_events": count + 1000, "max_bytes": 10**12},
                    "metrics": {"port": 0},
                    "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": "bench-rss"},
                    "rules": [RULE],
                }
            )
        )
        env = dict(os.environ, MFG_EDGE_API_KEY=API_KEY)
        log = open(work / "rss-agent.log", "ab")  # noqa: SIM115 - closed below
        agent = subprocess.Popen(
            [sys.executable, "-m", "mfg_edge.cli", "run", "-c", str(config)],
            stdout=log,
            stderr=log,
            env=env,
        )
        peak = 0.0
        for _ in range(100):
            time.sleep(0.1)
            peak = max(peak, rss_mb(agent.pid))
        # Also while it receives: 5,000 more messages into the full-size store.
        done = multiprocessing.Value("d", 0.0)
        publisher = multiprocessing.Process(
            target=_publisher_main, args=(broker.port, 5000, 0, "rss", done)
        )
        publisher.start()
        while publisher.is_alive():
            peak = max(peak, rss_mb(agent.pid))
            time.sleep(0.1)
        time.sleep(1.0)
        peak = max(peak, rss_mb(agent.pid))
        agent.terminate()
        agent.wait(30)
        log.close()
    finally:
        broker.stop()
    with sqlite3.connect(data / "events.sqlite3") as db:
        buffered = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return {
        "events": count,
        "buffered_after": buffered,
        "fill_s": fill_s,
        "file_bytes": file_bytes,
        "bytes_per_event": file_bytes / count,
        "agent_peak_rss_mb": peak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    work = Path(tempfile.mkdtemp(prefix="mfg-edge-bench-"))
    print(f"work directory {work}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}")

    e2e = bench_end_to_end(work, int(50000 * scale))
    print("\n1. MQTT -> store -> HTTP, the real `mfg-edge run` process, end to end")
    print(f"   {e2e['applied']:,}/{e2e['messages']:,} applied in {e2e['elapsed_s']:.1f} s")
    print(f"   = {e2e['rate']:,.0f} msgs/s sustained (synchronous=FULL)")
    print(f"   publisher alone: {e2e['messages'] / e2e['publish_s']:,.0f} msgs/s")
    print(f"   agent peak RSS {e2e['agent_peak_rss_mb']:.0f} MB")
    per_message = e2e["agent_cpu_us_per_msg"]
    print(
        f"   agent CPU {per_message:.0f} us per message (in, store, out) -> one free core"
        f" would carry ~{1e6 / per_message:,.0f} msgs/s"
    )

    pre = bench_end_to_end(work, int(50000 * scale), preload=True)
    print("\n1b. Same, the broker already holding the messages (no publisher competing for CPU)")
    print(f"   {pre['applied']:,}/{pre['messages']:,} applied in {pre['elapsed_s']:.1f} s")
    cpu = pre["agent_cpu_us_per_msg"]
    print(f"   = {pre['rate']:,.0f} msgs/s sustained; agent CPU {cpu:.0f} us/msg")

    grouped = bench_ingest(work, int(50000 * scale), 19, 0, "group")
    naive = bench_ingest(work, int(10000 * scale), 1, 0, "naive", burst=1)
    paced = bench_ingest(work, int(20000 * scale), 19, 1000, "paced")
    print("\n2. Ingest MQTT -> durable store (synchronous=FULL), in process")
    print(f"   {'':36} {'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for title, row in (
        ("group commit (<=19 / 50 ms, burst)", grouped),
        ("naive: INSERT+commit per message", naive),
        ("group commit, 1,000 msgs/s offered", paced),
    ):
        print(f"   {title:36} {row['rate']:>9,.0f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f}")
    print(f"   ratio group/naive: {grouped['rate'] / naive['rate']:.1f}x")

    batched = bench_drain(work, int(100000 * scale), 1000, "batched")
    one_by_one = bench_drain(work, int(5000 * scale), 1, "one-by-one")
    print("\n3. Drain a backlog to the HTTP receiver")
    for title, row in (("batched, 1000 per POST", batched), ("naive, 1 per POST", one_by_one)):
        print(
            f"   {title:24} {row['events']:>9,} events in {row['elapsed_s']:6.1f} s"
            f" = {row['rate']:>9,.0f} events/s"
        )
    print(f"   ratio: {batched['rate'] / one_by_one['rate']:.1f}x")

    buffered = bench_buffered(work, int(1000000 * scale))
    per_event = buffered["bytes_per_event"]
    print(f"\n4. {buffered['events']:,} events buffered (filled in {buffered['fill_s']:.0f} s)")
    print(f"   store {buffered['file_bytes'] / 1e6:,.0f} MB = {per_event:.0f} bytes/event")
    print(
        f"   agent peak RSS {buffered['agent_peak_rss_mb']:.0f} MB (Odoo down, 5,000 more arriving)"
    )
    outage = 13_000_000 * per_event
    print(f"   72 h outage at 50 events/s = 13.0 million events -> {outage / 1e9:.1f} GB of disk")

    print("\nTargets: >= 10,000 msgs/s sustained durable, >= 20,000 events/s drain,")
    print("         p99 arrival-to-durable <= 100 ms, RSS < 150 MB")
    print(
        json.dumps(
            {
                "end_to_end": e2e,
                "end_to_end_preloaded": pre,
                "ingest_group": grouped,
                "ingest_naive": naive,
                "ingest_paced": paced,
                "drain_batched": batched,
                "drain_naive": one_by_one,
                "buffered": buffered,
            },
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
