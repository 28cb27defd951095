"""Edge agent benchmark (a script, not a test): run with the edge venv's python.

    .venv-edge/bin/python tests/bench/bench_edge.py            # full run, 10-13 minutes
    .venv-edge/bin/python tests/bench/bench_edge.py --quick    # smoke run, about 1 minute

Measures, each next to the naive way in the same run, and prints the load average with each
section (the figures depend on what else runs on the machine; run it on a quiet one):
  1. sustained MQTT in -> durable store -> HTTP out, the real `mfg-edge run` process end to end,
     for paho's own socket I/O, our buffered I/O, and two MQTT shard processes; with the broker
     pre-loaded (the agent alone) and with a publisher running at full speed; msgs/s and the
     agent's CPU per message (its shard processes included)
  2. ingest only (in process): msgs/s and p50/p99 arrival-to-durable at the maximum rate and at
     a paced 1,000 msgs/s, group commit vs one INSERT+commit per message (all synchronous=FULL)
  3. drain of a 100,000-event backlog: batched POSTs vs one POST per event
  4. RSS of the agent with 1,000,000 events buffered, and the store's bytes per event
The publisher is `mqtt_blaster.py`: pre-encoded QoS 1 PUBLISH packets on a raw socket, a few
microseconds per message, so it is not what limits the figures. Mosquitto runs with its
defaults (max_inflight_messages 20) unless --inflight is given. Needs Mosquitto (it starts its
own on free ports). Everything talks to 127.0.0.1 only.
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
from mqtt_blaster import blast  # noqa: E402

from mfg_edge.clock import ClockWatch  # noqa: E402
from mfg_edge.codec import format_timestamp  # noqa: E402
from mfg_edge.event import Event  # noqa: E402
from mfg_edge.ingest import Ingestor  # noqa: E402
from mfg_edge.metrics import Metrics  # noqa: E402
from mfg_edge.rules import RuleSet  # noqa: E402
from mfg_edge.sender import Sender  # noqa: E402
from mfg_edge.sources.mqtt import MqttSource  # noqa: E402
from mfg_edge.sources.mqtt_shards import ShardedMqttSource, shard_client_id  # noqa: E402
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


# The source time of every benchmark message: the run's start, relative to the clock.
STARTED_AT = format_timestamp(time.time())


def payload(n: int, tag: str) -> bytes:
    return json.dumps(
        {
            "msg_id": f"{tag}-{n}",
            "ts": STARTED_AT,
            "work_order": f"WH/MO/{n % 500:05d}",
            "product": "FURN_8888",
            "qty": 25,
            "uom": "Units",
            "lot": f"L2026-1123-{n % 97:02d}",
        }
    ).encode()


LINES = 2  # two production lines: the shard runs put one line on each shard process


def line_rules() -> list[dict]:
    """One rule per line (a shard owns whole rules), identical otherwise."""
    return [
        dict(RULE, name=f"completed-line{line}", topic=f"plant1/line{line}/mes/completed")
        for line in range(LINES)
    ]


def messages(count: int, tag: str) -> list[tuple[str, bytes]]:
    return [(f"plant1/line{n % LINES}/mes/completed", payload(n, tag)) for n in range(count)]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def calibrate(count: int = 20000) -> float:
    """Microseconds of CPU to turn one message into an event (the rule, single-threaded, no
    I/O): the same fixed work every run, so two runs' figures can be compared. On this shared
    2-core machine it varied from 10 to 22 us between runs minutes apart."""
    from mfg_edge.codec import loads

    rule = RuleSet(line_rules()).match_topic("plant1/line0/mes/completed")[0]
    bodies = [payload(n, "calibrate") for n in range(count)]
    topic = "plant1/line0/mes/completed"
    started = time.process_time()
    for body in bodies:
        context = {"payload": loads(body), "topic": topic, "topic_segments": topic.split("/")}
        rule.build(
            agent_source="plant1/gw-bench",
            context=context,
            origin=topic,
            payload=body,
            discriminator="",
            received_time=time.time(),
            clock_quality=None,
        ).envelope_json()
    return (time.process_time() - started) / count * 1e6


# ---------------------------------------------------------------------------- helper processes
def _blaster_main(port: int, count: int, rate: float, tag: str, done) -> None:
    done.value = blast(port, messages(count, tag), rate=rate, client_id=f"bench-pub-{tag}"[:23])


def start_publisher(port: int, count: int, rate: float, tag: str):
    """The raw-socket publisher in its own process (never in the agent's or the bench's GIL)."""
    done = multiprocessing.Value("d", 0.0)
    process = multiprocessing.Process(target=_blaster_main, args=(port, count, rate, tag, done))
    process.start()
    return process, done


def _publisher_main(port: int, count: int, rate: float, tag: str, done) -> None:
    """paho as a publisher (section 4 only: a few thousand messages into a full store)."""
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


def process_tree(pid: int) -> list[int]:
    """The process and its children (the agent's MQTT shard processes)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            pids.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


def tree_cpu_seconds(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except OSError:
            continue
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_broker(directory: Path, inflight: int | None) -> Broker:
    broker = Broker(directory)
    if inflight:
        broker.config.write_text(broker.config.read_text() + f"max_inflight_messages {inflight}\n")
    return broker.start()


def mqtt_settings(port: int, client_id: str, mode: str) -> dict:
    settings = {"host": "127.0.0.1", "port": port, "client_id": client_id}
    if mode == "paho-io":
        settings["buffered_io"] = False
    if mode == "shards":
        settings["shards"] = [{"topics": [f"plant1/line{line}/#"]} for line in range(LINES)]
    return settings


def prime(port: int, client_id: str, mode: str) -> None:
    """The agent's sessions exist before the broker is loaded, as after a first start."""
    topics = [rule["topic"] for rule in line_rules()]
    if mode == "shards":
        for line, topic in enumerate(topics):
            prime_session(port, shard_client_id(client_id, line), [topic])
    else:
        prime_session(port, client_id, topics)


# ---------------------------------------------------------------------------- 1. end to end
def bench_end_to_end(
    work: Path, count: int, mode: str, preload: bool, inflight: int | None = None
) -> dict:
    """mode: 'paho-io' (paho's own socket I/O), 'buffered' (ours), 'shards' (2 processes).
    preload=True: the broker holds `count` queued messages before the agent starts (the agent's
    own rate); False: the publisher runs at full speed while the agent works."""
    label = f"e2e-{mode}-{'pre' if preload else 'live'}"
    client_id = f"bench-{mode}"[:19]
    broker = make_broker(work / f"broker-{label}", inflight)
    results = {}
    try:
        with ReceiverProcess() as receiver:
            prime(broker.port, client_id, mode)
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
                        "mqtt": mqtt_settings(broker.port, client_id, mode),
                        "rules": line_rules(),
                    }
                )
            )
            env = dict(os.environ, MFG_EDGE_API_KEY=API_KEY)
            if preload:
                publisher, done = start_publisher(broker.port, count, 0, label)
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
                expected = LINES if mode == "shards" else 1
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and (
                    (work / f"{label}-agent.log").read_text().count("MQTT subscribed") < expected
                ):
                    time.sleep(0.05)
                time.sleep(0.5)
            start = time.monotonic()
            cpu_before = tree_cpu_seconds(process_tree(agent.pid))
            if not preload:
                publisher, done = start_publisher(broker.port, count, 0, label)
            peak_rss = 0.0
            deadline = time.monotonic() + 600
            cpu_after = cpu_before
            while time.monotonic() < deadline:
                applied = receiver_stats(receiver.port.value)["applied"]
                peak_rss = max(peak_rss, rss_mb(agent.pid))
                cpu_after = tree_cpu_seconds(process_tree(agent.pid)) or cpu_after
                if applied >= count:
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - start
            cpu_used = sum(cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after)
            publisher.join(60)
            agent.terminate()
            agent.wait(30)
            log.close()
            stats = receiver_stats(receiver.port.value)
            results = {
                "mode": mode,
                "preload": preload,
                "messages": count,
                "applied": stats["applied"],
                "elapsed_s": elapsed,
                "publish_s": done.value,
                "rate": stats["applied"] / elapsed,
                "agent_peak_rss_mb": peak_rss,
                "agent_cpu_us_per_msg": cpu_used / max(1, stats["applied"]) * 1e6,
                "load": os.getloadavg(),
            }
    finally:
        broker.stop()
    return results


# ---------------------------------------------------------------------------- 2. ingest only
def bench_ingest(
    work: Path,
    count: int,
    max_messages: int,
    rate: float,
    label: str,
    burst: int = 1000,
    mode: str = "buffered",
    inflight: int | None = None,
) -> dict:
    """The real MQTT source(s), Ingestor and Store in this process (shards: child processes),
    so every message's arrival-to-durable time is known."""
    broker = make_broker(work / f"broker-{label}", inflight)
    try:
        client_id = f"bench-{label}"[:19]
        prime(broker.port, client_id, mode)
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
        kind = ShardedMqttSource if mode == "shards" else MqttSource
        source = kind(
            mqtt_settings(broker.port, client_id, mode),
            RuleSet(line_rules()),
            ingestor,
            ClockWatch(),
            metrics,
            "plant1/gw-bench",
        )
        source.start()
        deadline = time.monotonic() + 30
        while not source.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        start = time.monotonic()
        cpu_before = tree_cpu_seconds(process_tree(os.getpid()))
        publisher, _done = start_publisher(broker.port, count, rate, label)
        deadline = time.monotonic() + 900
        while store.count < count and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = time.monotonic() - start
        cpu_after = tree_cpu_seconds(process_tree(os.getpid()))
        publisher.join(60)
        cpu_used = sum(
            cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after if pid != publisher.pid
        )
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
        "mode": mode,
        "messages": count,
        "stored": stored,
        "elapsed_s": elapsed,
        "rate": stored / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": p99 * 1000,
        "cpu_us_per_msg": cpu_used / max(1, stored) * 1e6,
        "offered_rate": rate or "max",
        "load": os.getloadavg(),
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
    parser.add_argument(
        "--inflight",
        type=int,
        default=None,
        help="Mosquitto max_inflight_messages (default: Mosquitto's own, 20)",
    )
    parser.add_argument(
        "--only", choices=["e2e", "ingest", "drain", "rss"], help="run one section only"
    )
    parser.add_argument(
        "--e2e-messages",
        type=int,
        default=150000,
        help="messages per end-to-end run (default 150,000: about 15 s at the target rate)",
    )
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    inflight = args.inflight
    work = Path(tempfile.mkdtemp(prefix="mfg-edge-bench-"))
    print(f"work directory {work}; python {sys.version.split()[0]}; {load()}")
    print(f"Mosquitto max_inflight_messages {inflight or '20 (default)'}; synchronous=FULL")
    report: dict = {}
    report["calibration_us"] = [calibrate()]
    print(
        f"machine speed: {report['calibration_us'][0]:.1f} us of CPU per message for the rule"
        " alone (fixed work; lower = faster machine)"
    )
    count = int(50000 * scale)
    # End to end runs longer: a few seconds would leave out the WAL checkpoints and the store's
    # indexes grown to their working size, and flatter the sustained rate.
    e2e_count = int(args.e2e_messages * scale)

    if args.only in (None, "e2e"):
        print("\n1. MQTT -> durable store -> HTTP, the real `mfg-edge run` process, end to end")
        print(
            f"   {e2e_count:,} QoS 1 messages on 2 topics; CPU = the agent and its shard processes"
        )
        print(f"   {'':44} {'msgs/s':>8} {'agent CPU us/msg':>17}  load (1 min)")
        rows = []
        for preload in (True, False):
            for mode, title in (
                ("paho-io", "naive: paho's own socket I/O"),
                ("buffered", "ours: buffered I/O, one process"),
                ("shards", "ours: 2 MQTT shard processes"),
            ):
                row = bench_end_to_end(work, e2e_count, mode, preload, inflight)
                rows.append(row)
                when = "broker pre-loaded" if preload else "publisher live"
                print(
                    f"   {when + ', ' + title:44} {row['rate']:>8,.0f}"
                    f" {row['agent_cpu_us_per_msg']:>17,.0f}  {row['load'][0]:.2f}"
                    + ("" if row["applied"] == e2e_count else f"  ONLY {row['applied']:,} applied")
                )
        report["end_to_end"] = rows
        peak = max(row["agent_peak_rss_mb"] for row in rows)
        print(f"   agent peak RSS {peak:.0f} MB")

    if args.only in (None, "ingest"):
        print(f"\n2. Ingest MQTT -> durable store (synchronous=FULL), in process; {load()}")
        print(f"   {'':46} {'msgs/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/msg':>11}  load")
        ingest_rows = []
        for title, kwargs in (
            (
                "naive: INSERT+commit per message",
                {"count": int(10000 * scale), "max_messages": 1, "burst": 1, "rate": 0},
            ),
            ("group commit, paho's socket I/O", {"mode": "paho-io", "rate": 0}),
            ("group commit, buffered I/O", {"mode": "buffered", "rate": 0}),
            ("group commit, 2 shard processes", {"mode": "shards", "rate": 0}),
            (
                "group commit, 1,000 msgs/s offered",
                {"count": int(20000 * scale), "mode": "buffered", "rate": 1000},
            ),
        ):
            options = {"count": count, "max_messages": 19, **kwargs}
            label = f"ingest-{len(ingest_rows)}"
            row = bench_ingest(work, label=label, inflight=inflight, **options)
            row["title"] = title
            ingest_rows.append(row)
            print(
                f"   {title:46} {row['rate']:>8,.0f} {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f}"
                f" {row['cpu_us_per_msg']:>11,.0f}  {row['load'][0]:.2f}"
            )
        report["ingest"] = ingest_rows

    if args.only in (None, "drain"):
        batched = bench_drain(work, int(100000 * scale), 1000, "batched")
        one_by_one = bench_drain(work, int(5000 * scale), 1, "one-by-one")
        print(f"\n3. Drain a backlog to the HTTP receiver; {load()}")
        for title, row in (("batched, 1000 per POST", batched), ("naive, 1 per POST", one_by_one)):
            print(
                f"   {title:24} {row['events']:>9,} events in {row['elapsed_s']:6.1f} s"
                f" = {row['rate']:>9,.0f} events/s"
            )
        print(f"   ratio: {batched['rate'] / one_by_one['rate']:.1f}x")
        report["drain_batched"], report["drain_naive"] = batched, one_by_one

    if args.only in (None, "rss"):
        buffered = bench_buffered(work, int(1000000 * scale))
        per_event = buffered["bytes_per_event"]
        print(f"\n4. {buffered['events']:,} events buffered (filled in {buffered['fill_s']:.0f} s)")
        print(f"   store {buffered['file_bytes'] / 1e6:,.0f} MB = {per_event:.0f} bytes/event")
        print(
            f"   agent peak RSS {buffered['agent_peak_rss_mb']:.0f} MB"
            " (Odoo down, 5,000 more arriving)"
        )
        outage = 13_000_000 * per_event
        print(
            f"   72 h outage at 50 events/s = 13.0 million events -> {outage / 1e9:.1f} GB of disk"
        )
        report["buffered"] = buffered

    report["calibration_us"].append(calibrate())
    print(f"\nmachine speed at the end: {report['calibration_us'][-1]:.1f} us per message")
    print("Targets: >= 10,000 msgs/s sustained durable, >= 20,000 events/s drain,")
    print("         p99 arrival-to-durable <= 100 ms, RSS < 150 MB")
    print(f"finished; {load()}")
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
