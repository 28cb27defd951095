"""The store's dead-letter table: what Odoo rejected, or no rule could read, kept for replay."""

from __future__ import annotations

import json
import time
from typing import Any


class DeadLetterTable:
    """Dead letters of the Store (a part of it: the store's connection, lock and sequence)."""

    def dead_letters(self, limit: int = 1000) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(
                "SELECT id, seq, kind, subject, type, reason_code, reason, pointer, http_status,"
                " created_at, replays, body FROM dead_letters ORDER BY created_at, seq LIMIT ?",
                (limit,),
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def select_dead_letters(self, ids: list[str] | None) -> list[dict[str, Any]]:
        """The dead letters to replay: all when ids is None."""
        rows = [d for d in self.dead_letters(limit=10_000_000) if ids is None or d["id"] in ids]
        return rows

    def request_replay(self, dead_id: str, replacement: str | None = None) -> None:
        """Mark a dead letter for replay. The running agent re-queues it (it alone allocates
        sequence numbers, so two processes never hand out the same one)."""
        with self._lock:
            self._db.execute(
                "UPDATE dead_letters SET replay_requested = 1,"
                " replacement = COALESCE(?, replacement) WHERE id = ?",
                (replacement, dead_id),
            )

    def requeue_requested(self) -> int:
        """Move dead letters marked for replay back into the queue (same id; same sequence for
        events that had one). Returns how many were re-queued."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, kind, body, replacement, source_time, received_time"
                " FROM dead_letters WHERE replay_requested = 1 ORDER BY seq"
            ).fetchall()
            if not rows:
                return 0
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for dead_id, dead_seq, kind, body, replacement, source_time, received_time in rows:
                    text = replacement if kind == "raw" else body
                    if text is None:
                        continue
                    parsed = json.loads(text)
                    seq = dead_seq
                    if seq is None:
                        seq = self._next_seq
                        self._next_seq += 1
                    self._db.execute(
                        "INSERT OR IGNORE INTO events(seq, id, subject, type, event_class,"
                        " source_time, received_time, envelope)"
                        " VALUES (?, ?, ?, ?, 'transactional', ?, ?, ?)",
                        (
                            seq,
                            parsed["id"],
                            parsed["subject"],
                            parsed["type"],
                            source_time or time.time(),
                            received_time or time.time(),
                            text,
                        ),
                    )
                    self._db.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
                self._set_meta_in_tx({"next_seq": self._next_seq})
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._recount()
        return len(rows)

    def update_dead_reason(self, dead_id: str, code: str, reason: str) -> None:
        """A replay attempt that failed again (raw letter still fits no rule)."""
        with self._lock:
            self._db.execute(
                "UPDATE dead_letters SET reason_code = ?, reason = ?, replays = replays + 1"
                " WHERE id = ?",
                (code, reason, dead_id),
            )
