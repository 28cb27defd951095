"""OPC-UA source: asyncua subscriptions (publishing interval, deadband) under a supervisor.

The supervisor builds a fresh client for every connection attempt, bounds `connect()` with a
timeout (a half-open TCP connection can hang it forever), watches the session by reading the
server state, and on any failure throws the client away, backs off with full jitter and
subscribes again: subscriptions are restored after a server restart without operator action.
The data-change callback only puts the sample in a queue; normalising and storing happen in a
separate task, so a slow disk never stalls asyncua's receive loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from datetime import UTC

from asyncua import Client, ua

from ..backoff import Backoff
from ..codec import format_timestamp
from .base import Source, message_to_events

_logger = logging.getLogger(__name__)
QUEUE_LIMIT = 20000


class _Handler:
    def __init__(self, source: OpcUaSource):
        self.source = source

    def datachange_notification(self, node, val, data):
        # Never block here: asyncua calls this from its receive loop.
        value = data.monitored_item.Value
        stamp = value.SourceTimestamp or value.ServerTimestamp
        item = (node.nodeid.to_string(), val, stamp, value.StatusCode)
        try:
            self.source.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.source.metrics.inc("mfg_edge_events_shed_total", source="opcua_queue")

    def status_change_notification(self, status):
        _logger.warning("OPC-UA subscription status changed: %s", status)


class OpcUaSource(Source):
    kind = "opcua"

    def __init__(self, settings: dict, rules, ingestor, clock, metrics, agent_source: str):
        super().__init__(ingestor, clock, metrics, agent_source)
        self.settings = settings
        self.rules = rules
        self.by_node: dict[str, list] = {}
        for rule in rules.for_kind("opcua"):
            node = ua.NodeId.from_string(rule.spec["node"]).to_string()
            self.by_node.setdefault(node, []).append(rule)
        self.backoff = Backoff(0.5, float(settings.get("backoff_max_s", 30)))
        self.connected = False
        self.connections = 0
        self.queue: asyncio.Queue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._session_task: asyncio.Task | None = None
        self._thread: threading.Thread | None = None
        metrics.set("mfg_edge_source_connected", lambda: 1 if self.connected else 0, source="opcua")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_thread, name="opcua", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop and self._stopping:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self._loop.call_soon_threadsafe(self._request_stop)
        if self._thread:
            self._thread.join(timeout)

    def _request_stop(self) -> None:
        """On the loop: stop now, also in the middle of a connect to a server that does not
        answer (that would otherwise hold the stop for connect_timeout_s)."""
        self._stopping.set()
        if self._session_task is not None:
            self._session_task.cancel()

    def _run_thread(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self.queue = asyncio.Queue(maxsize=QUEUE_LIMIT)
        consumer = asyncio.create_task(self._consume())
        try:
            while not self._stopping.is_set():
                self._session_task = asyncio.create_task(self._session())
                with contextlib.suppress(asyncio.CancelledError):
                    await self._session_task
                self._session_task = None
                if self._stopping.is_set():
                    break
                delay = self.backoff.next_delay()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        finally:
            consumer.cancel()
            await self._drain_queue()

    async def _build_client(self) -> Client:
        settings = self.settings
        client = Client(settings["endpoint"], timeout=float(settings.get("connect_timeout_s", 10)))
        if settings.get("username"):
            client.set_user(settings["username"])
            env = settings.get("password_env")
            if env and os.environ.get(env):
                client.set_password(os.environ[env])
        policy = settings.get("security_policy", "None")
        if policy != "None":
            parts = [policy, settings.get("security_mode", "SignAndEncrypt")]
            parts += [settings["certificate"], settings["private_key"]]
            if settings.get("server_certificate"):
                parts.append(settings["server_certificate"])
            await client.set_security_string(",".join(parts))
        return client

    async def _session(self) -> None:
        settings = self.settings
        client = None
        try:
            client = await self._build_client()
            # The watchdog for connects: a hung TCP/secure-channel handshake must not stall us.
            await asyncio.wait_for(
                client.connect(), timeout=float(settings.get("connect_timeout_s", 10))
            )
            handler = _Handler(self)
            by_interval: dict[int, list] = {}
            for node, rules in self.by_node.items():
                interval = rules[0].spec.get("publishing_interval_ms") or settings.get(
                    "publishing_interval_ms", 500
                )
                by_interval.setdefault(int(interval), []).append(
                    (node, rules[0].spec.get("deadband"))
                )
            subscribed = 0
            for interval, nodes in by_interval.items():
                subscription = await client.create_subscription(interval, handler)
                for node_id, deadband in nodes:
                    node = client.get_node(node_id)
                    if deadband:
                        await subscription.deadband_monitor(node, float(deadband))
                    else:
                        await subscription.subscribe_data_change(node)
                    subscribed += 1
            self.connections += 1
            self.connected = True
            self.backoff.reset()
            _logger.info(
                "OPC-UA connected to %s; %d nodes subscribed%s",
                settings["endpoint"],
                subscribed,
                " (subscriptions restored after reconnect)" if self.connections > 1 else "",
            )
            state_node = client.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_State))
            interval = float(settings.get("watchdog_interval_s", 2))
            while not self._stopping.is_set():
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=interval)
                    break
                except TimeoutError:
                    pass
                # The session watchdog: the server must answer a read within the timeout.
                await asyncio.wait_for(state_node.read_value(), timeout=max(interval, 2.0))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure means: drop this client and build a new one
            _logger.warning(
                "OPC-UA connection to %s lost or failed: %s",
                settings["endpoint"],
                exc or type(exc).__name__,
            )
        finally:
            self.connected = False
            if client is not None:
                try:
                    await asyncio.wait_for(client.disconnect(), timeout=2)
                except Exception:  # the server is gone already; nothing left to close cleanly
                    _logger.debug("OPC-UA disconnect after failure did not complete")

    async def _consume(self) -> None:
        while True:
            item = await self.queue.get()
            while self.ingestor.full():
                # Never block the event loop: asyncua's keep-alives run on it.
                await asyncio.sleep(0.05)
            self._normalise(*item)

    async def _drain_queue(self) -> None:
        while self.queue is not None and not self.queue.empty():
            self._normalise(*self.queue.get_nowait())

    def _normalise(self, node_id, value, stamp, status) -> None:
        received, quality = self.clock.quality()
        source_time = stamp.replace(tzinfo=UTC).timestamp() if stamp is not None else received
        if isinstance(value, float | int | str | bool) or value is None:
            plain = value
        else:
            plain = str(value)
        payload = json.dumps({"node": node_id, "value": plain}, sort_keys=True).encode()
        sampled_at = format_timestamp(source_time)

        def context(rule) -> dict:
            value_map = rule.spec.get("value_map") or {}
            return {
                "value": plain,
                "node": node_id,
                "machine": rule.spec.get("machine", ""),
                "state": value_map.get(str(plain), f"unknown:{plain}") if value_map else plain,
                "source_time": sampled_at,
                "status": str(getattr(status, "name", status)),
            }

        events, dead = message_to_events(
            self.by_node.get(node_id, []),
            kind="opcua",
            agent_source=self.agent_source,
            context=context,
            origin=node_id,
            payload=payload,
            # The server's source timestamp identifies the sample: the initial value re-sent
            # after a reconnect gets the same id and is dropped as a duplicate.
            discriminator=sampled_at,
            received_time=received,
            clock_quality=quality,
        )
        self.submit(events, dead)
