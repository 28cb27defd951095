"""`mfg-edge simulate`: a small plant for demos and tests.

- An OPC-UA server (asyncua) with two machines, each exposing State, GoodCount, ScrapCount,
  Speed and Temperature under string node ids ns=2;s=Line1.<machine>.<tag>.
- An MQTT publisher (QoS 1) of MES events for work orders WH/MO/00001, ... on
  <prefix>/started | progress | scrap | downtime | completed, JSON payloads with a message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
import threading
import time
import uuid
from datetime import UTC, datetime

_logger = logging.getLogger(__name__)

NAMESPACE_URI = "urn:mfg:plant-simulator"
MACHINES = ("M1", "M2")
STATES = {0: "stopped", 1: "running", 2: "idle", 3: "fault"}
PRODUCTS = ("FURN_8888", "FURN_7777", "FURN_0096")
DOWNTIME_REASONS = ("material_shortage", "tool_change", "jam", "quality_check")


def _now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def node_id(machine: str, tag: str) -> str:
    return f"ns=2;s=Line1.{machine}.{tag}"


class MesPublisher:
    """Publishes one work order's life at a time, like a MES line controller would."""

    def __init__(self, host: str, port: int, prefix: str, interval: float, rng: random.Random):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.prefix = prefix.rstrip("/")
        self.interval = interval
        self.rng = rng
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"mfg-sim-{uuid.uuid4().hex[:8]}"
        )
        self.client.reconnect_delay_set(0.5, 10)
        self.client.max_queued_messages_set(0)
        self.client.connect_async(host, port)
        self.client.loop_start()
        self.published = 0

    def publish(self, event: str, payload: dict) -> None:
        payload = {"msg_id": uuid.uuid4().hex, "ts": _now(), **payload}
        # QoS 1: while the broker is away paho keeps the message and sends it on reconnect.
        self.client.publish(f"{self.prefix}/{event}", json.dumps(payload), qos=1)
        self.published += 1

    def run_orders(self, stop: threading.Event, orders: int) -> None:
        number = 0
        while not stop.is_set() and (orders == 0 or number < orders):
            number += 1
            reference = f"WH/MO/{number:05d}"
            product = self.rng.choice(PRODUCTS)
            machine = self.rng.choice(MACHINES)
            target = self.rng.randrange(10, 60, 5)
            base = {"work_order": reference, "product": product, "machine": machine}
            self.publish("started", {**base, "qty": target, "uom": "Units"})
            made = 0
            while made < target and not stop.is_set():
                stop.wait(self.interval)
                step = min(5, target - made)
                made += step
                self.publish("progress", {**base, "qty": step, "qty_done": made, "uom": "Units"})
                if self.rng.random() < 0.15:
                    self.publish("scrap", {**base, "qty": 1, "uom": "Units", "reason": "dimension"})
                if self.rng.random() < 0.08:
                    minutes = self.rng.randint(1, 15)
                    self.publish(
                        "downtime",
                        {
                            **base,
                            "reason": self.rng.choice(DOWNTIME_REASONS),
                            "duration_min": minutes,
                        },
                    )
            if not stop.is_set():
                self.publish(
                    "completed", {**base, "qty": made, "uom": "Units", "lot": f"L{number:05d}"}
                )
        _logger.info("MES publisher done: %d messages", self.published)

    def close(self) -> None:
        deadline = time.monotonic() + 5
        while self.client.want_write() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()


async def run_opcua_server(
    port: int, interval: float, stop: asyncio.Event, rng: random.Random
) -> None:
    from asyncua import Server, ua

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/mfg/simulator/")
    server.set_server_name("mfg plant simulator")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    index = await server.register_namespace(NAMESPACE_URI)
    line = await server.nodes.objects.add_object(ua.NodeId("Line1", index), "Line1")
    tags: dict[str, dict] = {}
    for machine in MACHINES:
        obj = await line.add_object(ua.NodeId(f"Line1.{machine}", index), machine)
        tags[machine] = {
            "State": await obj.add_variable(
                ua.NodeId(f"Line1.{machine}.State", index),
                "State",
                ua.Variant(1, ua.VariantType.Int32),
            ),
            "GoodCount": await obj.add_variable(
                ua.NodeId(f"Line1.{machine}.GoodCount", index),
                "GoodCount",
                ua.Variant(0, ua.VariantType.Int64),
            ),
            "ScrapCount": await obj.add_variable(
                ua.NodeId(f"Line1.{machine}.ScrapCount", index),
                "ScrapCount",
                ua.Variant(0, ua.VariantType.Int64),
            ),
            "Speed": await obj.add_variable(
                ua.NodeId(f"Line1.{machine}.Speed", index), "Speed", 60.0
            ),
            "Temperature": await obj.add_variable(
                ua.NodeId(f"Line1.{machine}.Temperature", index), "Temperature", 45.0
            ),
        }
    state = {m: {"state": 1, "good": 0, "scrap": 0, "temp": 45.0} for m in MACHINES}
    async with server:
        _logger.info("OPC-UA simulator on opc.tcp://127.0.0.1:%d/mfg/simulator/ (ns=2)", port)
        while not stop.is_set():
            for machine in MACHINES:
                current = state[machine]
                if rng.random() < 0.03:
                    current["state"] = rng.choice([0, 1, 1, 1, 2, 3])
                running = current["state"] == 1
                if running:
                    current["good"] += rng.randint(1, 3)
                    if rng.random() < 0.1:
                        current["scrap"] += 1
                current["temp"] = max(
                    20.0, min(90.0, current["temp"] + rng.uniform(-0.5, 0.6 if running else -0.2))
                )
                await tags[machine]["State"].write_value(
                    ua.Variant(current["state"], ua.VariantType.Int32)
                )
                await tags[machine]["GoodCount"].write_value(
                    ua.Variant(current["good"], ua.VariantType.Int64)
                )
                await tags[machine]["ScrapCount"].write_value(
                    ua.Variant(current["scrap"], ua.VariantType.Int64)
                )
                await tags[machine]["Speed"].write_value(
                    round(rng.uniform(55, 65), 1) if running else 0.0
                )
                await tags[machine]["Temperature"].write_value(round(current["temp"], 2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def run_simulator(args) -> int:
    rng = random.Random(args.seed)
    stop_thread = threading.Event()
    publisher = None
    mes_thread = None
    if not args.no_mqtt:
        publisher = MesPublisher(
            args.mqtt_host, args.mqtt_port, args.topic_prefix, args.interval, rng
        )
        mes_thread = threading.Thread(
            target=publisher.run_orders, args=(stop_thread, args.orders), daemon=True
        )
        mes_thread.start()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

        async def watch_orders():
            while mes_thread is not None and mes_thread.is_alive():
                await asyncio.sleep(0.2)
            if args.orders and args.opcua_port == 0:
                stop.set()

        watcher = asyncio.create_task(watch_orders())
        if args.opcua_port:
            await run_opcua_server(args.opcua_port, args.interval, stop, random.Random(args.seed))
        else:
            await stop.wait()
        watcher.cancel()

    try:
        asyncio.run(main())
    finally:
        stop_thread.set()
        if mes_thread is not None:
            mes_thread.join(5)
        if publisher is not None:
            publisher.close()
    return 0
