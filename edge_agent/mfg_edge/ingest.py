"""Group commit between the sources and the store, with acknowledgements in arrival order.

Sources hand over what one source message became (events and/or a raw dead letter) plus an
`ack` callable. The committer writes up to `max_messages` messages or `max_ms` worth in one
durable transaction and only then calls their acks, oldest first. Mosquitto lets a client hold
20 unacknowledged QoS 1 messages by default, so the group must stay below that or the broker
stops sending and every batch waits for the timer.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .event import Event, RawDeadLetter
from .store import Store

_logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Pending:
    events: list[Event]
    raw_dead: list[RawDeadLetter] = field(default_factory=list)
    ack: Callable[[], None] | None = None
    arrived: float = field(default_factory=time.monotonic)
    source: str = "other"
    # Several source messages handed over together (what an MQTT shard forwards in one pipe
    # write): how many, with `ack` acknowledging all of them and `arrived` the first one's
    # arrival; `split` gives one Pending per message, used when only some of them fit in a
    # full store (each message is acknowledged only when all its events are stored).
    messages: int = 1
    split: Callable[[], list[Pending]] | None = None


class Ingestor:
    def __init__(
        self,
        store: Store,
        metrics,
        *,
        max_messages: int = 19,
        max_ms: float = 50.0,
        burst_messages: int = 1000,
        queue_limit: int = 200,
        on_commit: Callable[[], None] | None = None,
        latency_samples: int = 20000,
    ):
        self.store = store
        self.metrics = metrics
        self.max_messages = max_messages
        self.burst_messages = max(burst_messages, max_messages)
        self.max_s = max_ms / 1000.0
        self.on_commit = on_commit
        # Bounded: when the store cannot keep up, sources block (MQTT stops reading its socket,
        # so TCP pushes back on the broker) instead of the agent's memory growing. The bound is
        # also the latency bound at the maximum rate: a message waits for at most queue_limit
        # others to be committed (Mosquitto sends more than max_inflight_messages once acks
        # flow, so the broker's window alone does not bound it). A SimpleQueue (C, no
        # Python-level lock per put/get) with the bound checked in submit().
        self.queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()
        self.queue_limit = queue_limit
        self.base_queue_limit = queue_limit  # per MQTT connection: shards multiply it
        self.latencies: collections.deque[float] = collections.deque(maxlen=latency_samples)
        self._held: list[Pending] = []
        self._stop = threading.Event()
        # Set first when the agent stops: sources blocked on a full queue return at once and
        # nothing new is taken (what is not taken is not acknowledged: it stays at its source).
        self._closed = threading.Event()
        self._refusing = False
        self._thread: threading.Thread | None = None
        self._window_max = 0.0
        # Called after each commit's acks (a shard link sends them to its process in one write).
        self.after_acks: list[Callable[[], None]] = []
        self.metrics.set("mfg_edge_arrival_to_durable_seconds_max", lambda: self._window_max)

    def full(self) -> bool:
        return self.queue.qsize() >= self.queue_limit

    def submit(self, pending: Pending) -> bool:
        """Queue a source message for the next commit. Once the intake is closed (the agent
        stops) it never waits: a message that does not fit is refused (False), neither stored
        nor acknowledged, so the broker keeps it."""
        while self.queue.qsize() >= self.queue_limit:
            if self._closed.is_set():
                # Never wait once closed; and refuse everything after a first refusal, so no
                # later message is acknowledged ahead of one left at the broker.
                self._refusing = True
                return False
            time.sleep(0.002)  # the committer is behind: hold the source (back-pressure)
        if self._refusing:
            return False
        self.queue.put(pending)
        return True

    def close_intake(self) -> None:
        """Take nothing more from the sources (the first step of a stop)."""
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="ingest-commit", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after committing what has arrived; unacked messages stay with their source."""
        self._closed.set()
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def backlog(self) -> int:
        return self.queue.qsize() + len(self._held)

    def run(self) -> None:
        while True:
            if self._held:
                # Store was full: retry the held messages before anything newer (order of acks).
                if self._stop.is_set():
                    return
                batch, self._held = self._held, []
                self._commit(batch)
                if self._held:
                    self._stop.wait(0.2)
                continue
            try:
                first = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            batch = [first]
            messages = first.messages
            # Never WAIT for more than max_messages (19): Mosquitto sends at most 20 unacked
            # messages, so waiting for a 20th would stall until the timer. Messages that are
            # already here are taken up to burst_messages: one fsync for all of them.
            deadline = time.monotonic() + self.max_s
            while messages < self.burst_messages:
                try:
                    pending = self.queue.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if messages >= self.max_messages or remaining <= 0:
                        break
                    try:
                        pending = self.queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                batch.append(pending)
                messages += pending.messages
            self._commit(batch)

    def _commit(self, batch: list[Pending]) -> None:
        events = [event for pending in batch for event in pending.events]
        raw_dead = [dead for pending in batch for dead in pending.raw_dead]
        try:
            result = self.store.insert(events, raw_dead)
        except Exception:
            # Disk full, I/O error: nothing acked, so the sources still hold every message.
            _logger.exception("store commit failed for %d messages; retrying", len(batch))
            self._held = batch + self._held
            self._stop.wait(1.0)
            return
        if result.blocked and any(pending.split for pending in batch):
            # Only some of it was stored: decide message by message.
            batch = [part for p in batch for part in (p.split() if p.split else (p,))]
        blocked_ids = {event.id for event in result.blocked}
        done = 0
        for pending in batch:
            if any(event.id in blocked_ids for event in pending.events):
                break
            done += 1
        now = time.monotonic()
        for pending in batch[:done]:
            if pending.ack is not None:
                try:
                    pending.ack()
                except Exception:  # a lost ack only means a redelivery, answered as duplicate
                    _logger.exception("acknowledging a source message failed")
            waited = now - pending.arrived
            if pending.messages == 1:
                self.latencies.append(waited)
            else:  # each message of a group counted with the first one's (longest) wait
                self.latencies.extend([waited] * pending.messages)
            self.metrics.observe("mfg_edge_arrival_to_durable_seconds", waited, pending.messages)
        for flush in self.after_acks:
            try:
                flush()
            except Exception:  # as above: an ack not sent is a redelivery, not a loss
                _logger.exception("sending acknowledgements failed")
        self._window_max = max((now - p.arrived for p in batch[:done]), default=0.0)
        self._held = batch[done:]
        for pending in self._held:
            # A retry takes only what was not stored: a message's events already stored (the
            # sender may even deliver them before the retry) and its raw dead letters are
            # written, and shed telemetry is decided (and counted) once.
            pending.events = [e for e in pending.events if e.id in blocked_ids]
            pending.raw_dead = []
        received: dict[str, int] = {}
        for pending in batch[:done]:
            received[pending.source] = received.get(pending.source, 0) + pending.messages
        for source, count in received.items():
            # Counted per commit, not per message: a lock per message costs throughput.
            self.metrics.inc("mfg_edge_messages_received_total", count, source=source)
        self.metrics.inc("mfg_edge_events_stored_total", result.inserted)
        if result.duplicates:
            self.metrics.inc("mfg_edge_events_duplicate_ingest_total", result.duplicates)
        if raw_dead:
            self.metrics.inc("mfg_edge_ingest_dead_letters_total", len(raw_dead))
        if result.inserted and self.on_commit:
            self.on_commit()
