"""CSV drop folder: complete files only, one event per row, crash-safe, files moved when done.

A file is complete when either
  - a marker `<name>.done` exists next to it (the writer creates it after closing the CSV), or
  - its size and modification time have not changed for `settle_ms` (default 2 s).
Writers should create the file under a temporary name (a leading dot, or a `.tmp`/`.part`
suffix, all ignored) and rename it to `*.csv` when written: a rename is atomic.

Each row's event id comes from the file's content hash and the row number, so if the agent dies
half way through a file, the file is read again from the start and the rows already stored or
delivered are recognised as duplicates. The file moves to `processed/` only after every row is
durably stored; a file that cannot be read (encoding, no header, no rule for its columns) moves
to `failed/` with `<name>.reason.txt` saying why. A single bad row becomes a dead letter; the
rest of the file goes through.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import threading
import time
from pathlib import Path

from ..event import RawDeadLetter
from .base import Source, message_to_events

_logger = logging.getLogger(__name__)
IGNORED_SUFFIXES = (".tmp", ".part", ".done", ".reason.txt")


class CsvFolderSource(Source):
    kind = "csv"

    def __init__(self, settings: dict, rules, ingestor, clock, metrics, agent_source: str):
        super().__init__(ingestor, clock, metrics, agent_source)
        self.settings = settings
        self.rules = rules
        self.folders = rules.csv_folders()
        self.settle_s = settings.get("settle_ms", 2000) / 1000.0
        self.poll_s = settings.get("poll_interval_ms", 500) / 1000.0
        self.rows_per_commit = settings.get("rows_per_commit", 500)
        self._seen: dict[Path, tuple[int, int, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = True
        self.files_processed = 0
        self.files_failed = 0

    def start(self) -> None:
        for folder in self.folders:
            for sub in ("", "processed", "failed"):
                Path(folder, sub).mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="csv-folder", daemon=True)
        self._thread.start()
        _logger.info("watching CSV drop folders: %s", ", ".join(self.folders))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            for folder in self.folders:
                try:
                    self.scan(Path(folder))
                except Exception:  # one unreadable folder must not stop the others
                    _logger.exception("scanning %s failed", folder)
            self._stop.wait(self.poll_s)

    def ready_files(self, folder: Path) -> list[Path]:
        now = time.monotonic()
        ready = []
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except FileNotFoundError:
            return []
        for entry in entries:
            name = entry.name
            if not entry.is_file() or name.startswith(".") or name.endswith(IGNORED_SUFFIXES):
                continue
            if not name.lower().endswith(".csv"):
                continue
            path = Path(entry.path)
            if Path(str(path) + ".done").exists():
                ready.append(path)
                continue
            info = entry.stat()
            signature = (info.st_size, info.st_mtime_ns)
            seen = self._seen.get(path)
            if seen is None or seen[:2] != signature:
                self._seen[path] = (*signature, now)
            elif now - seen[2] >= self.settle_s:
                ready.append(path)
        return ready

    def scan(self, folder: Path) -> None:
        for path in self.ready_files(folder):
            if self._stop.is_set():
                return
            self.process(folder, path)

    def process(self, folder: Path, path: Path) -> bool:
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        try:
            text = content.decode(self.settings.get("encoding", "utf-8-sig"))
        except UnicodeDecodeError as exc:
            return self._fail(
                folder, path, f"not {self.settings.get('encoding', 'utf-8-sig')} text: {exc}"
            )
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=self.settings.get("delimiter", ",")
        )
        try:
            header = [column.strip() for column in next(reader)]
        except StopIteration:
            return self._fail(folder, path, "the file is empty (no header line)")
        except csv.Error as exc:
            return self._fail(folder, path, f"unreadable header: {exc}")
        rule = self.rules.match_csv(str(folder), header)
        if rule is None:
            wanted = [
                r.spec["columns"]
                for r in self.rules.for_kind("csv")
                if r.spec["folder"] == str(folder)
            ]
            return self._fail(
                folder, path, f"no rule for columns {header}; rules expect one of {wanted}"
            )
        events, dead = [], []
        rows = chunk_rows = 0
        try:
            for row_number, row in enumerate(reader, start=1):
                if not any(cell.strip() for cell in row):
                    continue
                rows += 1
                received, quality = self.clock.quality()
                row_bytes = json.dumps(row).encode()
                if len(row) != len(header):
                    dead.append(
                        self._dead(
                            path,
                            digest,
                            row_number,
                            row_bytes,
                            "bad_row",
                            f"line {row_number + 1}: {len(row)} cells, header has {len(header)}",
                            received,
                        )
                    )
                else:
                    built, failed = message_to_events(
                        [rule],
                        kind="csv",
                        agent_source=self.agent_source,
                        context={
                            "row": dict(zip(header, row, strict=True)),
                            "file": path.name,
                            "line": row_number + 1,
                        },
                        origin=f"csv:{digest}",
                        payload=row_bytes,
                        discriminator=str(row_number),
                        received_time=received,
                        clock_quality=quality,
                        dead_origin=f"{path.name}:{digest}:{row_number}",
                        dead_context={"file": path.name},
                        reason_prefix=f"line {row_number + 1}: ",
                    )
                    events.extend(built)
                    dead.extend(failed)
                chunk_rows += 1
                if len(events) + len(dead) >= self.rows_per_commit:
                    if not self._commit(events, dead, chunk_rows):
                        return False
                    events, dead, chunk_rows = [], [], 0
                    if self._stop.is_set():
                        # Half read: the file stays in the folder and is read again from the
                        # top at the next start; its stored rows come out as duplicates.
                        return False
        except csv.Error as exc:
            return self._fail(folder, path, f"CSV syntax error after {rows} rows: {exc}")
        if not self._commit(events, dead, chunk_rows):
            return False
        self._move(path, folder / "processed")
        self.files_processed += 1
        _logger.info(
            "CSV %s: %d rows stored (rule %s), moved to processed/", path.name, rows, rule.name
        )
        return True

    def _dead(self, path, digest, row_number, row_bytes, code, reason, received) -> RawDeadLetter:
        return RawDeadLetter(
            "csv",
            f"{path.name}:{digest}:{row_number}",
            row_bytes,
            code,
            reason,
            received,
            {"file": path.name},
        )

    def _commit(self, events, dead, rows: int) -> bool:
        """Hand rows to the ingestor and wait until they are durable. While the store is full
        the ingestor holds them (rows are never shed from a file, unless their rule says they
        are telemetry); False when the agent stops first: the file stays and is read again."""
        stored = threading.Event()
        if not self.submit(events, dead, stored.set, messages=rows):
            return False
        while not stored.wait(0.2):
            if self._stop.is_set() or self.ingestor.closed:
                return False
        return True

    def _move(self, path: Path, target_dir: Path) -> Path:
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            target = target_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{path.name}"
        os.replace(path, target)
        marker = Path(str(path) + ".done")
        if marker.exists():
            marker.unlink()
        self._seen.pop(path, None)
        return target

    def _fail(self, folder: Path, path: Path, reason: str) -> bool:
        target = self._move(path, folder / "failed")
        Path(str(target) + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
        self.files_failed += 1
        _logger.error("CSV %s moved to failed/: %s", path.name, reason)
        return False
