"""The durable buffer: SQLite in WAL mode between the sources and the sender.

Durability choice: WAL with synchronous=FULL. Every commit fsyncs the WAL before it returns, and
the source is acknowledged (MQTT PUBACK, CSV file moved) only after that commit. With NORMAL a
commit survives a process crash but not a power cut, and the broker would already have dropped the
message we acked: so NORMAL could lose acknowledged events. FULL costs one fsync per group commit,
which small frequent group commits (<= 19 messages or 50 ms) amortise.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .codec import utc_day
from .dead_letters import DeadLetterTable
from .event import TELEMETRY, Event, RawDeadLetter
from .store_checkpoint import WalCheckpointer

_logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,            -- the envelope's `sequence`, per source, never reused
    id TEXT NOT NULL UNIQUE,            -- deterministic event id: the idempotency key
    subject TEXT NOT NULL,
    type TEXT NOT NULL,
    event_class TEXT NOT NULL,
    source_time REAL NOT NULL,
    received_time REAL NOT NULL,
    envelope TEXT NOT NULL              -- JSON without `sequence` (added when sending)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    seq INTEGER,
    kind TEXT NOT NULL,                 -- 'event' (answered rejected) or 'raw' (did not fit a rule)
    subject TEXT,
    type TEXT,
    source_time REAL,
    received_time REAL,
    body TEXT NOT NULL,                 -- the envelope, or the raw source message as JSON
    reason_code TEXT NOT NULL,
    reason TEXT NOT NULL,
    pointer TEXT,
    http_status INTEGER,
    created_at REAL NOT NULL,
    replays INTEGER NOT NULL DEFAULT 0,
    replay_requested INTEGER NOT NULL DEFAULT 0,  -- set by `mfg-edge replay-dead`
    replacement TEXT                    -- for raw letters: the envelope a fixed rule produced
);
CREATE TABLE IF NOT EXISTS daily_counts (
    day TEXT NOT NULL,
    type TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flow_minutes (
    minute INTEGER PRIMARY KEY,         -- wall-clock minute: epoch seconds // 60
    stored INTEGER NOT NULL DEFAULT 0,  -- events that entered the queue in that minute
    sent INTEGER NOT NULL DEFAULT 0     -- events that left it (delivered or dead-lettered)
) WITHOUT ROWID;
"""

# `status` reports the backlog's drain over this window, from flow_minutes.
DRAIN_WINDOW_S = 300
# flow_minutes keeps this many minutes (one row per minute with traffic).
FLOW_KEEP_MINUTES = 60

# Rough per-row overhead on disk beyond the envelope text (keys, index entries, page slack).
ROW_OVERHEAD_BYTES = 160
# 72 h at 50 events/s is 13 million typical events of ~650 bytes (8.5 GB): 10 GB holds them.
DEFAULT_MAX_BYTES = 10_000_000_000


@dataclass
class InsertResult:
    inserted: int = 0
    duplicates: int = 0
    shed: int = 0
    # Events not stored because the store is full and their class must not be shed: the caller
    # keeps them (does not acknowledge the source) and retries later.
    blocked: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class StoredEvent:
    seq: int
    id: str
    subject: str
    type: str
    source_time: float
    received_time: float
    envelope: str

    def wire_json(self) -> str:
        """The envelope with its sequence, built by text splicing (no re-parse when draining)."""
        return f'{self.envelope[:-1]},"sequence":"{self.seq:012d}"}}'


# SQLite allows 32766 bound parameters per statement; a few hundred rows per statement keeps the
# statement cache small (one shape per chunk size) and is still one step instead of one per row.
_ROWS_PER_STATEMENT = 250
_STATEMENTS: dict[tuple[str, int, int], str] = {}


def _multirow(head: str, columns: int, rows: int) -> str:
    """`head VALUES (?,..),(?,..)...` for `rows` rows, cached per shape."""
    key = (head, columns, rows)
    text = _STATEMENTS.get(key)
    if text is None:
        one = "(" + ",".join("?" * columns) + ")"
        text = _STATEMENTS[key] = f"{head} VALUES {','.join([one] * rows)}"
    return text


def _execute_rows(db: sqlite3.Connection, head: str, rows: list[tuple]) -> None:
    """INSERT many rows with one statement per chunk: sqlite3's executemany steps (and releases
    and re-takes the GIL) once per row."""
    if not rows:
        return
    columns = len(rows[0])
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        params = [value for row in chunk for value in row]
        db.execute(_multirow(head, columns, len(chunk)), params)


class Store(DeadLetterTable):
    def __init__(
        self,
        path: str | Path,
        *,
        max_events: int | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        telemetry_when_full: str = "shed",
        synchronous: str = "FULL",
        metrics=None,
        read_only: bool = False,
        wall=time.time,
    ):
        self.path = Path(path)
        # The wall clock of the drain figures (flow_minutes); a test controls it.
        self.wall = wall
        self._flow_minute = None
        self.max_events = max_events
        self.max_bytes = max_bytes
        # No count cap unless one is configured: the byte budget sizes the store.
        self._count_cap = max_events if max_events is not None else sys.maxsize
        self.telemetry_when_full = telemetry_when_full
        self.metrics = metrics
        self._lock = threading.RLock()
        self.read_only = read_only
        if read_only:
            self._db = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=10
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so a batch is one transaction.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(SCHEMA)
            # Stores of agents before 0.2 kept every delivered id for 48 h; the receiver's
            # answers replace that table (see `complete`), and its pages go back to the file.
            self._db.execute("DROP TABLE IF EXISTS delivered")
        self._db.execute("PRAGMA busy_timeout=10000")
        # 16 MiB of page cache (SQLite's default is 2 MiB): the id indexes that every commit
        # touches at random stay in memory instead of being read back page by page.
        self._db.execute("PRAGMA cache_size=-16384")
        self._checkpointer: WalCheckpointer | None = None
        if not read_only:
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # see WalCheckpointer
            # After a full checkpoint, the WAL file is cut back to this size when it restarts.
            self._db.execute(f"PRAGMA journal_size_limit={64 << 20}")
            self._checkpointer = WalCheckpointer(self.path, self._lock).start()
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(envelope)), 0), COALESCE(MAX(seq), 0) FROM events"
        ).fetchone()
        self.count, envelope_bytes, max_seq = row
        self.bytes = envelope_bytes + self.count * ROW_OVERHEAD_BYTES
        dead_max = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM dead_letters").fetchone()[0]
        stored_next = int(self.get_meta("next_seq") or 1)
        self._next_seq = max(stored_next, max_seq + 1, dead_max + 1)
        self.shed_total = int(self.get_meta("events_shed_total") or 0)
        self._last_full_log = 0.0

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        with self._lock:
            # The last connection to close copies the WAL in and removes it (SQLite does that
            # itself). No explicit TRUNCATE checkpoint: when `mfg-edge replay-dead` closes its
            # store while the agent runs, it would hold the agent's commits while it copies.
            self._db.close()

    # ----------------------------------------------------------------------------- meta
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, **values: Any) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._set_meta_in_tx(values)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _set_meta_in_tx(self, values: dict[str, Any]) -> None:
        self._db.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, None if v is None else str(v)) for k, v in values.items()],
        )

    def reserve_sequence(self) -> int:
        """A sequence number for an event that is not stored (the heartbeat)."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
            self.set_meta(next_seq=self._next_seq)
            return seq

    # ----------------------------------------------------------------------------- ingest
    def is_full(self, extra_bytes: int = 0) -> bool:
        return self.count >= self._count_cap or self.bytes + extra_bytes >= self.max_bytes

    def insert(
        self, events: list[Event], raw_dead: list[RawDeadLetter] | None = None
    ) -> InsertResult:
        """Store events (and raw dead letters) in ONE durable transaction; returns what happened."""
        result = InsertResult()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                known = self._known([event.id for event in events])
                rows = []
                for event in events:
                    if event.id in known:
                        result.duplicates += 1
                        continue
                    text = event.envelope_json()
                    size = len(text) + ROW_OVERHEAD_BYTES
                    if self.is_full(size):
                        if event.event_class == TELEMETRY and self.telemetry_when_full == "shed":
                            result.shed += 1
                        else:
                            result.blocked.append(event)
                        continue
                    known.add(event.id)  # the same message twice in one batch
                    rows.append(
                        (
                            self._next_seq,
                            event.id,
                            event.subject,
                            event.type,
                            event.event_class,
                            event.source_time,
                            event.received_time,
                            text,
                        )
                    )
                    self._next_seq += 1
                    self.count += 1
                    self.bytes += size
                if rows:
                    _execute_rows(
                        self._db,
                        "INSERT INTO events(seq, id, subject, type, event_class, source_time,"
                        " received_time, envelope)",
                        rows,
                    )
                    result.inserted = len(rows)
                for dead in raw_dead or []:
                    self._db.execute(
                        "INSERT OR IGNORE INTO dead_letters(id, kind, received_time, body,"
                        " reason_code, reason, created_at) VALUES (?, 'raw', ?, ?, ?, ?, ?)",
                        (
                            dead.id,
                            dead.received_time,
                            dead.body(),
                            dead.reason_code,
                            dead.reason,
                            time.time(),
                        ),
                    )
                if result.inserted:
                    self._set_meta_in_tx({"next_seq": self._next_seq})
                    self._count_flow(self.wall(), stored=result.inserted)
                if result.shed:
                    self._set_meta_in_tx({"events_shed_total": self.shed_total + result.shed})
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._recount()
                self._next_seq = max(self._next_seq, int(self.get_meta("next_seq") or 1))
                raise
        if result.shed:
            self.shed_total += result.shed
        if result.shed or result.blocked:
            self._report_full(result)
        return result

    def _known(self, ids: list[str]) -> set[str]:
        """Which ids are already queued or dead-lettered (one query).

        An id delivered before is not remembered here: a source's replay of it is queued and
        sent again, and the receiver answers it duplicate (applied once, counted once: see
        `complete`). Remembering every delivered id cost a random B-tree page write per event
        and about 70 bytes per id (120 GB for 48 h at 10,000 events/s)."""
        return self._ids_found(
            "SELECT id FROM events WHERE id IN ({marks})"
            " UNION ALL SELECT id FROM dead_letters WHERE id IN ({marks})",
            ids,
        )

    def _ids_found(self, query: str, ids: list[str]) -> set[str]:
        """The ids a query returns, ``{marks}`` standing for each IN list of the ids.

        SQLite allows 32766 parameters; chunks keep each IN list well below that.
        """
        found: set[str] = set()
        repeats = query.count("{marks}")
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            params = chunk * repeats
            found.update(row[0] for row in self._db.execute(query.format(marks=marks), params))
        return found

    def _report_full(self, result: InsertResult) -> None:
        if self.metrics is not None:
            if result.shed:
                self.metrics.inc("mfg_edge_events_shed_total", result.shed, source="store")
            if result.blocked:
                self.metrics.inc("mfg_edge_store_full_blocked_total", len(result.blocked))
        now = time.monotonic()
        if now - self._last_full_log > 10:
            self._last_full_log = now
            _logger.warning(
                "store full (%d events, %d bytes; limits %s events, %d bytes): shed %d telemetry "
                "events so far, holding %d transactional events at the source until space frees",
                self.count,
                self.bytes,
                "no cap on" if self.max_events is None else self.max_events,
                self.max_bytes,
                self.shed_total,
                len(result.blocked),
            )

    def _recount(self) -> None:
        count, envelope_bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(envelope)), 0) FROM events"
        ).fetchone()
        self.count = count
        self.bytes = envelope_bytes + count * ROW_OVERHEAD_BYTES

    # ----------------------------------------------------------------------------- sending
    def oldest_received_time(self) -> float | None:
        """When the oldest queued event arrived (one row by the primary key), None if empty."""
        with self._lock:
            row = self._db.execute(
                "SELECT received_time FROM events ORDER BY seq LIMIT 1"
            ).fetchone()
        return row[0] if row else None

    def next_batch(self, limit: int) -> list[StoredEvent]:
        """The oldest events in sequence order: sending in order keeps each subject in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, subject, type, source_time, received_time, envelope FROM events"
                " ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [StoredEvent(*row) for row in rows]

    def complete(
        self,
        delivered: list[StoredEvent],
        rejected: list[tuple[StoredEvent, dict[str, Any], int]] = (),
        now: float | None = None,
        counted: list[StoredEvent] | None = None,
    ) -> int:
        """In one transaction: drop delivered events, add `counted` (by default all delivered
        ones) to the per-day counts, and move rejected ones to the dead-letter table. Returns
        how many events were counted.

        The sender counts an event when the receiver applied it because of this queue row:
        answered accepted, or duplicate of this row's own earlier attempt. A duplicate of an
        event delivered before (a source's replay, queued again under a new sequence) was
        counted when it was first delivered, and is not counted again."""
        now = time.time() if now is None else now
        gone = list(delivered) + [r[0] for r in rejected]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                counted_now = self._count_days(delivered if counted is None else counted)
                for event, error, status in rejected:
                    self._db.execute(
                        "INSERT OR REPLACE INTO dead_letters(id, seq, kind, subject, type,"
                        " source_time, received_time, body, reason_code, reason, pointer,"
                        " http_status, created_at) VALUES (?, ?, 'event', ?, ?, ?, ?, ?, ?, ?, ?,"
                        " ?, ?)",
                        (
                            event.id,
                            event.seq,
                            event.subject,
                            event.type,
                            event.source_time,
                            event.received_time,
                            event.envelope,
                            str(error.get("code") or "rejected"),
                            str(error.get("message") or "rejected by the receiver"),
                            error.get("pointer"),
                            status,
                            now,
                        ),
                    )
                seqs = [e.seq for e in gone]
                for start in range(0, len(seqs), 900):
                    chunk = seqs[start : start + 900]
                    self._db.execute(
                        f"DELETE FROM events WHERE seq IN ({','.join('?' * len(chunk))})", chunk
                    )
                if delivered:
                    self._set_meta_in_tx({"last_send_ok": now})
                if gone:
                    self._count_flow(now, sent=len(gone))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self.count -= len(gone)
            self.bytes -= sum(len(e.envelope) + ROW_OVERHEAD_BYTES for e in gone)
        return counted_now

    def _count_flow(self, now: float, stored: int = 0, sent: int = 0) -> None:
        """Add to this minute's flow, in the caller's transaction (one row per minute)."""
        minute = int(now // 60)
        self._db.execute(
            "INSERT INTO flow_minutes(minute, stored, sent) VALUES (?, ?, ?) ON CONFLICT(minute)"
            " DO UPDATE SET stored = stored + excluded.stored, sent = sent + excluded.sent",
            (minute, stored, sent),
        )
        if minute != self._flow_minute:
            self._flow_minute = minute
            self._db.execute(
                "DELETE FROM flow_minutes WHERE minute < ?", (minute - FLOW_KEEP_MINUTES,)
            )

    def drain(self, backlog: int, now: float | None = None) -> dict[str, Any]:
        """The backlog's drain over the last DRAIN_WINDOW_S seconds (from the start of the
        window's first minute until `now`): events sent and stored per second, and in how many
        seconds the backlog is empty at that net rate (0 when empty, None when not draining).
        Rates are None for a store no agent of this version has opened yet (no flow_minutes)."""
        now = self.wall() if now is None else now
        first_minute = int((now - DRAIN_WINDOW_S) // 60)
        elapsed = now - first_minute * 60
        try:
            with self._lock:
                stored, sent = self._db.execute(
                    "SELECT COALESCE(SUM(stored), 0), COALESCE(SUM(sent), 0) FROM flow_minutes"
                    " WHERE minute >= ?",
                    (first_minute,),
                ).fetchone()
        except sqlite3.OperationalError:  # opened read-only before the agent created the table
            return {
                "window_s": DRAIN_WINDOW_S,
                "sent_per_s": None,
                "stored_per_s": None,
                "empty_in_s": 0.0 if backlog == 0 else None,
            }
        sent_per_s, stored_per_s = sent / elapsed, stored / elapsed
        net = sent_per_s - stored_per_s
        if backlog == 0:
            empty_in_s = 0.0
        elif net > 0:
            empty_in_s = round(backlog / net, 1)
        else:
            empty_in_s = None
        return {
            "window_s": DRAIN_WINDOW_S,
            "sent_per_s": round(sent_per_s, 3),
            "stored_per_s": round(stored_per_s, 3),
            "empty_in_s": empty_in_s,
        }

    def _count_days(self, events: list[StoredEvent]) -> int:
        """Add the events to the per-day counts (by source time); integration.* are not counted."""
        counts: dict[tuple[str, str], int] = {}
        counted = 0
        for event in events:
            if not event.type.startswith("integration."):
                key = (utc_day(event.source_time), event.type)
                counts[key] = counts.get(key, 0) + 1
                counted += 1
        self._db.executemany(
            "INSERT INTO daily_counts(day, type, count) VALUES (?, ?, ?) "
            "ON CONFLICT(day, type) DO UPDATE SET count = count + excluded.count",
            [(day, kind, n) for (day, kind), n in counts.items()],
        )
        return counted

    # ----------------------------------------------------------------------------- dead letters
    # ----------------------------------------------------------------------------- summary
    def daily_counts(self, day: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT type, count FROM daily_counts WHERE day = ? ORDER BY type", (day,)
            ).fetchall()
        return [{"type": kind, "count": count} for kind, count in rows]

    def counted_days(self) -> dict[str, int]:
        """{day: events counted that day, all types}, oldest first (one query)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT day, SUM(count) FROM daily_counts GROUP BY day ORDER BY day"
            ).fetchall()
        return dict(rows)

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every meta value whose key starts with `prefix`, by key (one query)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM meta WHERE key >= ? AND key < ?",
                (prefix, prefix + "\U0010ffff"),
            ).fetchall()
        return dict(rows)

    def pending_on_or_before(self, day: str) -> bool:
        """Are events of that day (by source time) or earlier still waiting to be sent?"""
        end = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() + 86400
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM events WHERE source_time < ? AND type NOT LIKE 'integration.%'"
                " LIMIT 1",
                (end,),
            ).fetchone()
        return row is not None

    # ----------------------------------------------------------------------------- status
    def stats(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        with self._lock:
            # The agent keeps the count in memory; the CLI (read-only) has to count.
            backlog = (
                self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
                if self.read_only
                else self.count
            )
            oldest = self.oldest_received_time()
            dead = self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        last_ok = meta.get("last_send_ok")
        return {
            "backlog": backlog,
            "oldest_event_age_s": round(max(0.0, now - oldest), 3) if oldest is not None else 0.0,
            "dead_letters": dead,
            "last_send_ok": float(last_ok) if last_ok else None,
            "last_error": meta.get("last_error"),
            "last_error_at": float(meta["last_error_at"]) if meta.get("last_error_at") else None,
            "sender_state": meta.get("sender_state") or "unknown",
            "auth_blocked_until": (
                float(meta["auth_blocked_until"]) if meta.get("auth_blocked_until") else None
            ),
            "events_shed_total": int(meta.get("events_shed_total") or 0),
            "store_bytes": self.file_bytes(),
        }

    def checkpoint_stats(self) -> tuple[int, float]:
        """(WAL checkpoints done, longest time commits waited for one, in seconds)."""
        checkpointer = self._checkpointer
        if checkpointer is None:
            return 0, 0.0
        return checkpointer.checkpoints, checkpointer.longest_pause_s

    def file_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(str(self.path) + suffix)
            if candidate.exists():
                total += candidate.stat().st_size
        return total
