"""`mfg-edge simulate`: a small plant for demos and tests.

- An OPC-UA server (asyncua) with two machines, each exposing State, GoodCount, ScrapCount,
  Speed and Temperature under string node ids ns=2;s=Line1.<machine>.<tag>.
- A MES (mes_simulator.py): it receives the manufacturing orders Odoo releases on its webhook
  (127.0.0.1:8075/mes/events, signed) and runs them on its lines, publishing over MQTT (QoS 1)
  <prefix>/started | progress | consumed | scrap | completed | downtime_started |
  downtime_ended, JSON payloads with a message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import threading
import time
import uuid
from datetime import UTC, datetime

from .mes_simulator import MesLine, MesWebhookReceiver, OrderBook, wait_for_url

_logger = logging.getLogger(__name__)

NAMESPACE_URI = "urn:mfg:plant-simulator"
MACHINES = ("M1", "M2")
STATES = {0: "stopped", 1: "running", 2: "idle", 3: "fault"}


def _now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def node_id(machine: str, tag: str) -> str:
    return f"ns=2;s=Line1.{machine}.{tag}"


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


def _mqtt_client(host: str, port: int):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"mfg-sim-{uuid.uuid4().hex[:8]}")
    client.reconnect_delay_set(0.5, 10)
    client.max_queued_messages_set(0)
    client.connect_async(host, port)
    client.loop_start()
    return client


def _read_secret(path: str | None) -> str:
    if not path:
        return os.environ.get("MFG_SIM_WEBHOOK_SECRET", "")
    with open(path, encoding="utf-8") as stream:
        return stream.read().strip()


def run_simulator(args) -> int:
    stop_thread = threading.Event()
    client = receiver = book = None
    lines: list[MesLine] = []
    if not args.no_mqtt and args.mes_port >= 0:
        secret = _read_secret(args.mes_secret_file)
        if not secret:
            _logger.error(
                "The MES needs the signing secret of Odoo's webhook (--mes-secret-file or "
                "MFG_SIM_WEBHOOK_SECRET); --mes-port -1 runs without the MES."
            )
            return 2
        if args.mes_state:
            os.makedirs(os.path.dirname(os.path.abspath(args.mes_state)), exist_ok=True)
        book = OrderBook(args.mes_state, seed=args.seed, settle_s=args.mes_settle)
        receiver = MesWebhookReceiver(book, "127.0.0.1", args.mes_port, secret)
        receiver.start()
        client = _mqtt_client(args.mqtt_host, args.mqtt_port)

        def start_lines():
            if args.wait_for:
                wait_for_url(args.wait_for, stop_thread, args.wait_timeout)
            for number in range(1, args.lines + 1):
                line = MesLine(
                    f"line{number}", book, client, args.topic_prefix, args.interval, stop_thread
                )
                line.start()
                lines.append(line)

        threading.Thread(target=start_lines, daemon=True).start()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if args.opcua_port:
            await run_opcua_server(args.opcua_port, args.interval, stop, random.Random(args.seed))
        else:
            await stop.wait()

    try:
        asyncio.run(main())
    finally:
        stop_thread.set()
        for line in lines:
            line.join(5)
        if receiver is not None:
            receiver.close()
        if book is not None:
            book.release_running()
            _logger.info("MES stopped: orders %s", book.counts())
        if client is not None:
            deadline = time.monotonic() + 5
            while client.want_write() and time.monotonic() < deadline:
                time.sleep(0.05)
            client.disconnect()
            client.loop_stop()
    return 0
