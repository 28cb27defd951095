"""MQTT in several processes ("shards"): one MQTT connection each, topic filters disjoint.

One Python process spends most of its CPU in paho's packet handling and in turning payloads
into envelopes, and the GIL keeps all of that on one core. With `mqtt.shards` each shard is a
child process with its own connection (its own client id and persistent session) subscribed to
the rules its topic filters cover. The child does everything up to the envelope text; the agent
process stays the ONLY writer of the store and the only one that decides acknowledgements:

    broker -> shard process: paho, on_message, rules, envelope JSON --pipe--> agent process:
    group commit (fsync) -> "ack up to k" --pipe--> shard process: client.ack(mid, 1) in order

What does not change: QoS 1, manual_ack, session_present checked (in the shard, as before),
a message is acknowledged only after its event is committed, acks in arrival order per
connection. A kill -9 of the agent closes the pipes; the shards exit at once (pipe EOF, and
PR_SET_PDEATHSIG) without acknowledging anything more, so the broker redelivers what was not
acknowledged and the deterministic ids make it a local duplicate. A shard that dies alone is
restarted with full-jitter backoff; its uncommitted messages come back the same way.

Ordering: MQTT keeps order per connection, so a topic is in exactly one shard (the filters of
different shards must not overlap: checked with the configuration). Events of one subject must
all arrive through one shard, or two shards may store them in a different order than they were
published: shard by line or by machine, not by event type.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque

from ..backoff import Backoff
from ..event import Event
from ..ingest import Pending
from ..rules import RuleSet
from ..topics import assign_shards

_logger = logging.getLogger(__name__)

# Messages forwarded in one pipe write at most (a burst of buffered packets is usually fewer).
FORWARD_MAX = 64


def shard_client_id(base: str, index: int) -> str:
    """`<base>-sNN`, within MQTT 3.1.1's 23 characters."""
    return f"{base[:19]}-s{index:02d}"


class _Forwarder:
    """The shard's 'ingestor': numbers each message and forwards what it became to the agent."""

    def __init__(self, data_conn, flush_each: bool, limit: int):
        self.data_conn = data_conn
        self.flush_each = flush_each
        # At most this many messages received and not yet committed by the agent
        # (store.max_uncommitted_messages, per shard): then the shard stops reading its socket
        # (TCP pushes back on the broker) until acks come.
        self.limit = limit
        self.counter = 0
        self.outgoing: list = []
        self.acks: deque = deque()  # (k, ack) in arrival order, until the agent commits them
        self.lock = threading.Lock()
        self.acked = threading.Condition()
        self.stopping = False
        # Called after each "ack up to k" (the source's flush: one write for those acks), as
        # the Ingestor's own after_acks in one process.
        self.after_acks: list = []

    def submit(self, pending: Pending) -> None:
        self.counter += 1
        self.acks.append((self.counter, pending.ack))
        events = [
            (
                e.id,
                e.type,
                e.subject,
                e.event_class,
                e.envelope_json(),
                e.source_time,
                e.received_time,
            )
            for e in pending.events
        ]
        self.outgoing.append((self.counter, events, pending.raw_dead, pending.arrived))
        if self.flush_each or len(self.outgoing) >= FORWARD_MAX:
            self.flush()
        if len(self.acks) >= self.limit:
            self.flush()
            with self.acked:
                while len(self.acks) >= self.limit and not self.stopping:
                    self.acked.wait(0.1)

    def flush(self) -> None:
        if self.outgoing:
            batch, self.outgoing = self.outgoing, []
            self.send(("batch", batch))

    def send(self, message) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        with self.lock:
            self.data_conn.send_bytes(data)

    def ack_upto(self, upto: int) -> None:
        while self.acks and self.acks[0][0] <= upto:
            _, ack = self.acks.popleft()
            if ack is not None:
                ack()
        for flush in self.after_acks:
            flush()
        with self.acked:
            self.acked.notify_all()


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def shard_main(index: int, params: dict, data_conn, ack_conn) -> None:
    """Entry point of a shard process (spawned: no threads or locks inherited)."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the agent decides when a shard stops
    logging.basicConfig(
        level=params["log_level"],
        format=f"%(asctime)s %(levelname)s %(name)s[shard {index}]: %(message)s",
    )
    from ..clock import ClockWatch
    from ..metrics import Metrics
    from .mqtt import MqttSource
    from .mqtt_client import BufferedClient

    source = MqttSource(
        params["settings"],
        RuleSet(params["rules"]),
        None,
        ClockWatch(**params["clock"]),
        Metrics(),
        params["agent_source"],
        password=params.get("password"),
    )
    buffered = isinstance(source.client, BufferedClient)
    forwarder = _Forwarder(data_conn, flush_each=not buffered, limit=params["limit"])
    source.ingestor = forwarder
    if buffered:
        source.client.after_read = forwarder.flush
    last_state = None

    def report_state() -> None:
        nonlocal last_state
        state = (source.connected, source.session_present)
        if state != last_state:
            last_state = state
            forwarder.send(("state", state))

    source.on_state = report_state
    source.start()
    try:
        while True:
            message = ack_conn.recv()
            if message[0] == "ack":
                forwarder.ack_upto(message[1])
            elif message[0] == "stop":
                forwarder.stopping = True
                break
    except (EOFError, OSError):
        # The agent is gone (kill -9): acknowledge nothing more, leave at once.
        os._exit(0)
    source.stop()
    data_conn.close()


# ------------------------------------------------------------------------------ agent side
def _events(rows) -> list[Event]:
    """The events of one message as a shard sent them (the envelope already JSON text)."""
    return [Event(i, t, subj, cls, None, st, rt, text) for i, t, subj, cls, text, st, rt in rows]


class _ShardLink:
    """The agent's end of one shard: starts (and restarts) the process, feeds the ingestor."""

    def __init__(self, owner: ShardedMqttSource, index: int, params: dict):
        self.owner = owner
        self.index = index
        self.params = params
        self.connected = False
        self.session_present: bool | None = None
        self.process = None
        self.ack_conn = None
        self._acked_upto = (0, 0)  # (generation, k)
        self._sent_upto = 0
        # Counts shard processes: an ack of a message from a previous process (still in the
        # ingestor's queue when it was restarted) must not acknowledge the new process's k.
        self._generation = 0
        self._send_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.backoff = Backoff(0.5, float(params["settings"].get("backoff_max_s", 30)))

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._supervise, name=f"mqtt-shard-{self.index}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        with self._send_lock:
            if self.ack_conn is not None:
                with contextlib.suppress(OSError):
                    self.ack_conn.send(("stop",))
        if self._thread:
            self._thread.join(timeout)

    def _supervise(self) -> None:
        context = multiprocessing.get_context("spawn")
        while not self._stopping.is_set():
            data_recv, data_send = context.Pipe(duplex=False)
            ack_recv, ack_send = context.Pipe(duplex=False)
            process = context.Process(
                target=shard_main,
                args=(self.index, self.params, data_send, ack_recv),
                name=f"mfg-edge-mqtt-shard-{self.index}",
                daemon=True,
            )
            process.start()
            data_send.close()
            ack_recv.close()
            with self._send_lock:
                self.process, self.ack_conn = process, ack_send
                self._generation += 1
                self._acked_upto = (self._generation, 0)
                self._sent_upto = 0
            started = time.monotonic()
            self._read(data_recv)
            self.connected = False
            with self._send_lock:
                self.ack_conn = None
            ack_send.close()
            data_recv.close()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
            # A shard that dies while the agent stops (systemd signals the whole unit) is not
            # restarted: the stop request reaches us within this grace.
            if self._stopping.wait(1.0):
                return
            if time.monotonic() - started > 60:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            _logger.error(
                "MQTT shard %d stopped (exit code %s); restarting in %.1f s: its unacknowledged"
                " messages are redelivered by the broker",
                self.index,
                process.exitcode,
                delay,
            )
            self._stopping.wait(delay)

    def _read(self, conn) -> None:
        ingestor = self.owner.ingestor
        acked = self._acked
        generation = self._generation
        while True:
            try:
                # Our own child process on an anonymous pipe: trusted data.
                kind, body = pickle.loads(conn.recv_bytes())  # noqa: S301
            except (EOFError, OSError):
                return
            if kind == "state":
                self.connected, self.session_present = body
                continue
            if len(body) == 1:
                ingestor.submit(self._pending(generation, *body[0]))
                continue
            # One Pending for the whole pipe write: acknowledged up to its last message once
            # all of it is stored; split per message only if the store takes part of it.
            ingestor.submit(
                Pending(
                    [event for _k, events, _dead, _arrived in body for event in _events(events)],
                    [dead for _k, _events, raw_dead, _arrived in body for dead in raw_dead],
                    functools.partial(acked, generation, body[-1][0]),
                    body[0][3],
                    "mqtt",
                    len(body),
                    functools.partial(self._split, generation, body),
                )
            )

    def _pending(self, generation: int, k: int, events, raw_dead, arrived: float) -> Pending:
        return Pending(
            _events(events),
            raw_dead,
            functools.partial(self._acked, generation, k),
            arrived,
            "mqtt",
        )

    def _split(self, generation: int, body: list) -> list[Pending]:
        return [self._pending(generation, *message) for message in body]

    def _acked(self, generation: int, k: int) -> None:
        # Acks come in order; the flush sends the highest. Called by the committer thread only.
        # One assignment of a pair: the flush compares the generation under the lock, so an
        # ack of the previous process can never name a message of the new one.
        self._acked_upto = (generation, k)

    def flush_acks(self) -> None:
        with self._send_lock:
            generation, upto = self._acked_upto
            if generation != self._generation:
                return
            if upto > self._sent_upto and self.ack_conn is not None:
                try:
                    self.ack_conn.send(("ack", upto))
                except OSError:
                    return  # the shard is gone: the broker redelivers, we answer duplicate
                self._sent_upto = upto


class ShardedMqttSource:
    """`mqtt.shards`: one process per shard (see the module docstring)."""

    def __init__(
        self, settings: dict, rules, ingestor, clock, metrics, agent_source: str, password=None
    ):
        from .mqtt import default_client_id

        self.ingestor = ingestor
        mqtt_rules = rules.for_kind("mqtt")
        filters = [shard["topics"] for shard in settings["shards"]]
        assigned, problems = assign_shards(filters, rules.mqtt_topics())
        for problem in problems:
            _logger.error("mqtt.shards: %s", problem)
        base = default_client_id(settings, agent_source)
        child_settings = {k: v for k, v in settings.items() if k != "shards"}
        self.links: list[_ShardLink] = []
        # The bound on uncommitted messages is per connection: each shard holds at most that
        # many, and the agent's queue holds what all shards may send (one process is bound by
        # its GIL, so a larger queue there only adds latency; shards commit in parallel).
        limit = ingestor.base_queue_limit
        self.queue_limit = limit * max(1, sum(1 for topics in assigned if topics))
        for index, topics in enumerate(assigned):
            if not topics:
                continue
            shard_rules = [r.spec for r in mqtt_rules if r.spec["topic"] in topics]
            params = {
                "settings": dict(child_settings, client_id=shard_client_id(base, index)),
                "rules": shard_rules,
                "agent_source": agent_source,
                "clock": clock.settings(),
                "password": password,
                "log_level": logging.getLevelName(logging.getLogger().getEffectiveLevel()),
                "limit": limit,
            }
            link = _ShardLink(self, index, params)
            self.links.append(link)
            metrics.set(
                "mfg_edge_source_connected",
                functools.partial(lambda lk: 1 if lk.connected else 0, link),
                source=f"mqtt/{index}",
            )
        _logger.info(
            "MQTT in %d shard processes: %s",
            len(self.links),
            "; ".join(
                f"{link.params['settings']['client_id']}: "
                + ", ".join(r["topic"] for r in link.params["rules"])
                for link in self.links
            ),
        )

    @property
    def connected(self) -> bool:
        return all(link.connected for link in self.links)

    def start(self) -> None:
        self.ingestor.queue_limit = self.queue_limit
        for link in self.links:
            self.ingestor.after_acks.append(link.flush_acks)
            link.start()

    def stop(self) -> None:
        for link in self.links:
            link.stop()
        self.ingestor.queue_limit = self.ingestor.base_queue_limit
        for link in self.links:
            if link.flush_acks in self.ingestor.after_acks:
                self.ingestor.after_acks.remove(link.flush_acks)
