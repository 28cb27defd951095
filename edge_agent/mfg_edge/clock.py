"""Clock quality: flag events captured while the wall clock is unsynchronised or just jumped.

Timestamps are never rewritten: a plant engineer must see what the gateway believed, plus a flag.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

UNSYNCHRONISED = "unsynchronised"
JUMPED = "jumped"


class ClockWatch:
    def __init__(
        self,
        min_year: int = 2020,
        jump_threshold_s: float = 5.0,
        jump_flag_window_s: float = 60.0,
        sync_marker_file: str | None = None,
        wall=time.time,
        monotonic=time.monotonic,
    ):
        self.min_year = min_year
        self.jump_threshold_s = jump_threshold_s
        self.jump_flag_window_s = jump_flag_window_s
        self.sync_marker_file = sync_marker_file
        self._wall = wall
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._offset = wall() - monotonic()
        self._jumped_until = -1.0
        self.jumps = 0
        self._min_epoch = datetime(min_year, 1, 1, tzinfo=UTC).timestamp()
        self._marker = False
        self._marker_checked_until = -1.0

    def settings(self) -> dict:
        """The constructor's settings (a shard process builds its own ClockWatch from them)."""
        return {
            "min_year": self.min_year,
            "jump_threshold_s": self.jump_threshold_s,
            "jump_flag_window_s": self.jump_flag_window_s,
            "sync_marker_file": self.sync_marker_file,
        }

    def synchronised(self) -> bool:
        if self._wall() < self._min_epoch:
            return False
        return not (self.sync_marker_file and not os.path.exists(self.sync_marker_file))

    def _marker_present(self, now_mono: float) -> bool:
        """The sync marker file's presence, looked up at most every 0.5 s (a stat per message
        costs more than the rest of the check)."""
        if now_mono >= self._marker_checked_until:
            self._marker_checked_until = now_mono + 0.5
            self._marker = os.path.exists(self.sync_marker_file)
        return self._marker

    def quality(self) -> tuple[float, str | None]:
        """(wall time now, flag or None); a jump = wall clock moved against the monotonic one."""
        with self._lock:
            now_mono = self._monotonic()
            now = self._wall()
            offset = now - now_mono
            if abs(offset - self._offset) > self.jump_threshold_s:
                # Flag for a window, then trust the new clock: after an NTP step it is right.
                self._jumped_until = now_mono + self.jump_flag_window_s
                self._offset = offset
                self.jumps += 1
            else:
                # Follow slow slewing so only steps count as jumps.
                self._offset = offset
            if now < self._min_epoch or (
                self.sync_marker_file and not self._marker_present(now_mono)
            ):
                return now, UNSYNCHRONISED
            if now_mono <= self._jumped_until:
                return now, JUMPED
            return now, None
