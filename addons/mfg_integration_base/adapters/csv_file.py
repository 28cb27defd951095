"""The CSV file adapter: contracted events as CSV files for legacy systems that only read
files, and their acknowledgements read back.

Each system has its own exchange folder (``<root>/<system code>/``, the root being the
server option ``mfg_file_exchange_root`` or ``<data_dir>/mfg_file_exchange``; a path is
never taken from the database, so no admin setting can make Odoo write elsewhere):

* ``outbox/``: Odoo writes one file per delivery batch and contract,
  ``<contract>_<first event id, 12 digits>.csv``, first to ``.tmp/`` and then renamed into
  ``outbox/`` (atomic: the legacy system never sees half a file). The first column is
  ``event_id`` (the CloudEvents id), then the contract's mapped columns (Configuration →
  Contracts → *File Columns*; by default the data's top-level fields). The number in the
  name grows with every file, so the reader processes them in order.
* ``done/`` and ``error/``: the legacy system moves a file it processed there. A file in
  ``error/`` may carry a last column ``error`` per row, or a ``<file>.err`` text beside it;
  its events become failed deliveries with a business exception carrying that reason.
  The acknowledgement files are moved to ``archive/`` once read.

A file written is a delivered event (the hand-over is done); the acknowledgement then
confirms it (the event notes when) or turns it into an exception.
"""

import csv
import io
import json
import os
from pathlib import Path

from ..services.adapters import Adapter, registry
from ..services.delivery_policy import Outcome
from ..services.json_pointer import get_value

EVENT_ID_COLUMN = "event_id"
ERROR_COLUMN = "error"


def exchange_root():
    from odoo.tools import config

    root = config.get("mfg_file_exchange_root") or os.path.join(
        config["data_dir"], "mfg_file_exchange"
    )
    return Path(root)


def system_folder(system_code, root=None):
    return Path(root or exchange_root()) / system_code


def default_columns(data):
    return tuple((key, f"/{key}") for key in sorted(data) if not isinstance(data[key], dict))


def cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def render(messages, columns):
    """The CSV text of ``messages`` (same contract) with ``columns`` ((header, pointer)...)."""
    if not columns:
        columns = default_columns(messages[0].envelope.get("data") or {})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([EVENT_ID_COLUMN, *[header for header, _pointer in columns]])
    for message in messages:
        data = message.envelope.get("data") or {}
        writer.writerow(
            [message.cloudevent_id]
            + [cell(get_value(data, pointer)) for _header, pointer in columns]
        )
    return out.getvalue()


def write_atomically(folder, name, text):
    tmp = folder / ".tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    (folder / "outbox").mkdir(parents=True, exist_ok=True)
    temporary = tmp / name
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / "outbox" / name)


@registry.adapter
class CsvFileAdapter(Adapter):
    key = "csv_file"

    def deliver(self, batch):
        folder = system_folder(self.settings.system_code, self.settings.url or None)
        columns = dict(self.settings.options)
        outcomes = {}
        groups = {}
        for message in batch:
            groups.setdefault(message.envelope["type"], []).append(message)
        for contract_code, messages in groups.items():
            name = f"{contract_code}_{messages[0].event_id:012d}.csv"
            try:
                write_atomically(folder, name, render(messages, columns.get(contract_code)))
            except OSError as error:
                for message in messages:
                    outcomes[message.event_id] = Outcome(
                        "technical", None, f"Writing {name} failed: {error}", None, "connection"
                    )
                continue
            for message in messages:
                outcomes[message.event_id] = Outcome("delivered", None, f"written to {name}")
        return [outcomes[message.event_id] for message in batch]


def read_acknowledgements(folder):
    """[(state 'done'|'error', file name, {event id: reason or ''})] of the acknowledgement
    files in ``folder``'s done/ and error/; each read file is moved to archive/."""
    found = []
    for state in ("done", "error"):
        directory = folder / state
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.csv")):
            file_reason = ""
            err = path.with_suffix(path.suffix + ".err")
            if err.exists():
                file_reason = err.read_text(encoding="utf-8", errors="replace").strip()
            rows = {}
            with open(path, encoding="utf-8", errors="replace", newline="") as handle:
                for row in csv.DictReader(handle):
                    event_id = (row.get(EVENT_ID_COLUMN) or "").strip()
                    if event_id:
                        rows[event_id] = (row.get(ERROR_COLUMN) or "").strip() or file_reason
            found.append((state, path.name, rows))
            archive = folder / "archive" / state
            archive.mkdir(parents=True, exist_ok=True)
            os.replace(path, archive / path.name)
            if err.exists():
                os.replace(err, archive / err.name)
    return found
