"""Where the agent's microseconds go, stage by stage, single-threaded (a script, not a test).

    .venv-edge/bin/python tests/bench/bench_edge_stages.py [--count 20000]

Each stage runs alone on pre-built input in this process, timed with the process CPU clock, so
the figures add up to roughly the agent's CPU per message (threads and the GIL add a little):
  paho: its network loop (select, read, parse a QoS 1 PUBLISH, call on_message), with paho's
        socket I/O vs buffered
  paho: one PUBACK per message written (one send each vs one send per commit of 19)
  on_message: JSON decode, rule match, fields, id, envelope (what a shard process runs)
  envelope JSON text, store insert + fsync'd commit (19 and 1,000 per commit),
  sender: read a batch, build the POST body, complete (delete + day counts).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import paho.mqtt.client as mqtt  # noqa: E402
from bench_edge import RULE, payload  # noqa: E402
from mqtt_blaster import publish_packet  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from mfg_edge.clock import ClockWatch  # noqa: E402
from mfg_edge.metrics import Metrics  # noqa: E402
from mfg_edge.rules import RuleSet  # noqa: E402
from mfg_edge.sources.mqtt import MqttSource  # noqa: E402
from mfg_edge.sources.mqtt_client import BufferedClient, BufferedSocket  # noqa: E402
from mfg_edge.store import Store  # noqa: E402

TOPIC = "plant1/line1/mes/completed"


def cpu_us(function, count: int) -> float:
    start = time.process_time()
    function()
    return (time.process_time() - start) / count * 1e6


def paho_read(buffered: bool, count: int, chunk: int = 400) -> float:
    """paho's loop parses `count` PUBLISH packets from a socket, calling a no-op on_message.

    The packets are written `chunk` at a time (they fit in the socket buffer, not timed), then
    paho reads them (timed), so no CPU is spent spinning on an empty socket."""
    packets = [publish_packet(TOPIC, payload(n, "s"), n % 65535 + 1) for n in range(count)]
    left, right = socket.socketpair()
    left.setblocking(False)
    kind = BufferedClient if buffered else mqtt.Client
    client = kind(CallbackAPIVersion.VERSION2, client_id="stages", manual_ack=True)
    client._sock = BufferedSocket(left) if buffered else left
    seen = [0]

    def on_message(_client, _userdata, _message):
        seen[0] += 1

    client.on_message = on_message
    spent = 0.0
    for start in range(0, count, chunk):
        right.sendall(b"".join(packets[start : start + chunk]))
        target = min(count, start + chunk)
        began = time.process_time()
        while seen[0] < target:
            client._loop(1.0)  # what loop_forever runs: select, loop_read, loop_misc
        spent += time.process_time() - began
    left.close()
    right.close()
    return spent / count * 1e6


def paho_acks(mode: str, count: int, per_commit: int = 19) -> float:
    """PUBACK every message, written after each commit of `per_commit`. mode: 'paho' (paho's
    client.ack() per message, paho's socket), 'buffered' (client.ack() per message, one send
    per commit), 'ack_many' (what the agent does: one queued write of a commit's PUBACKs)."""
    left, right = socket.socketpair()
    left.setblocking(False)
    kind = mqtt.Client if mode == "paho" else BufferedClient
    client = kind(CallbackAPIVersion.VERSION2, client_id="stages", manual_ack=True)
    client._sock = left if mode == "paho" else BufferedSocket(left)
    client._thread = threading.current_thread()
    drained = [0]

    def drain():
        try:
            while drained[0] < count * 4:
                chunk = right.recv(65536)
                if not chunk:
                    return
                drained[0] += len(chunk)
        except OSError:  # closed at the end of the stage
            return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()

    def run():
        for start in range(0, count, per_commit):
            mids = [n % 65535 + 1 for n in range(start, min(count, start + per_commit))]
            if mode == "ack_many":
                client.ack_many(mids)
            else:
                for mid in mids:
                    client.ack(mid, 1)
            while client.want_write():
                client.loop_write()

    result = cpu_us(run, count)
    reader.join(5)
    left.close()
    right.close()
    return result


class _Collect:
    def __init__(self):
        self.items = []

    def submit(self, pending):
        self.items.append(pending)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20000)
    count = parser.parse_args().count
    print(f"{count:,} messages per stage; load average {os.getloadavg()[0]:.2f}")
    rows = [
        ("paho read+parse+callback, paho's socket I/O", paho_read(False, count)),
        ("paho read+parse+callback, buffered I/O", paho_read(True, count)),
        ("paho PUBACK write, one send per ack", paho_acks("paho", count)),
        ("paho PUBACK write, one send per commit (19)", paho_acks("buffered", count)),
        ("PUBACKs queued as one write per commit (ack_many)", paho_acks("ack_many", count)),
    ]
    messages = []
    for n in range(count):
        message = mqtt.MQTTMessage(mid=n % 65535 + 1, topic=TOPIC.encode())
        message.qos = 1
        message.payload = payload(n, "s")
        messages.append(message)
    collect = _Collect()
    source = MqttSource(
        {"host": "127.0.0.1", "port": 1, "client_id": "stages"},
        RuleSet([RULE]),
        collect,
        ClockWatch(),
        Metrics(),
        "plant1/gw-bench",
    )

    def on_messages():
        for message in messages:
            source._on_message(None, None, message)

    rows.append(("on_message: JSON, rule, id, envelope dict", cpu_us(on_messages, count)))
    events = [event for pending in collect.items for event in pending.events]

    def encode():
        for event in events:
            event.envelope_json()

    rows.append(("envelope JSON text", cpu_us(encode, count)))
    work = Path(tempfile.mkdtemp(prefix="mfg-edge-stages-"))
    for per_commit in (19, 1000):
        store = Store(work / f"s{per_commit}.sqlite3", max_events=count * 2)

        def insert(store=store, per_commit=per_commit):
            for start in range(0, count, per_commit):
                store.insert(events[start : start + per_commit])

        wall = time.monotonic()
        rows.append((f"store insert, {per_commit} per fsync'd commit", cpu_us(insert, count)))
        wall_us = (time.monotonic() - wall) / count * 1e6
        rows[-1] = (rows[-1][0] + f" (wall {wall_us:.0f})", rows[-1][1])
    store = Store(work / "s1000.sqlite3", max_events=count * 2)

    def send_side():
        while True:
            batch = store.next_batch(1000)
            if not batch:
                return
            body = ('{"events":[' + ",".join(e.wire_json() for e in batch) + "]}").encode()
            assert body
            store.complete(batch)

    rows.append(("sender: batch, POST body, complete (no HTTP)", cpu_us(send_side, count)))
    print(f"{'stage':58} {'CPU us/msg':>10}")
    for title, value in rows:
        print(f"{title:58} {value:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
