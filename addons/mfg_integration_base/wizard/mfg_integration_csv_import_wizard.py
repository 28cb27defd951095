"""Import CSV: events of a system without an edge agent or an API client, from a file.

Each row becomes an event of the chosen contract, posted through the same ingest as the
API (validation, idempotency, ordering, exceptions). Columns: an optional ``event_id`` (the
event's id; without it, ``<file name>:<row number>``, so importing the same file again
gives duplicates, never a second event), optional ``subject`` and ``time``, and the data
fields: the contract's *File Columns* (header -> JSON pointer) when it has them, else one
column per top-level field, named as the field. Values are converted to the schema's types
(numbers, integers, booleans); an empty cell leaves the field out.
"""

import base64
import csv
import io
import json
from datetime import UTC, datetime

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..services import json_pointer

MAX_ROWS = 50000
ENVELOPE_COLUMNS = ("event_id", "subject", "time")


def _typed(value, schema):
    kind = (schema or {}).get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    text = value.strip()
    if "integer" in kinds and text.lstrip("-").isdigit():
        return int(text)
    if "number" in kinds:
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            return text  # the schema check names the field
    if "boolean" in kinds and text.lower() in ("true", "false", "1", "0", "yes", "no"):
        return text.lower() in ("true", "1", "yes")
    return text


def _property_schema(schema, pointer):
    node = schema
    for token in json_pointer.parse(pointer):
        node = (node or {}).get("properties", {}).get(token)
    return node or {}


class MfgIntegrationCsvImportWizard(models.TransientModel):
    _name = "mfg.integration.csv.import.wizard"
    _description = "Import Integration Events from CSV"

    system_id = fields.Many2one("mfg.integration.system", required=True)
    contract_id = fields.Many2one(
        "mfg.integration.contract",
        required=True,
        domain="[('direction', '=', 'inbound'), ('state', 'in', ('active', 'deprecated'))]",
    )
    file = fields.Binary(required=True)
    file_name = fields.Char()
    delimiter = fields.Selection(
        [(",", "Comma"), (";", "Semicolon"), ("\t", "Tab")], default=",", required=True
    )
    result = fields.Text(readonly=True)

    @api.model
    def _rows(self, text, delimiter):
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        if not reader.fieldnames:
            raise UserError(_("The file is empty or has no header line."))
        rows = list(reader)
        if len(rows) > MAX_ROWS:
            raise UserError(_("A file holds at most %s rows; split it.", MAX_ROWS))
        return reader.fieldnames, rows

    def _envelopes(self, header, rows):
        contract = self.contract_id
        schema = json.loads(contract.schema or "{}")
        columns = [(c.header, c.pointer) for c in contract.file_column_ids]
        if not columns:
            columns = [(name, f"/{name}") for name in header if name not in ENVELOPE_COLUMNS]
        missing = [name for name, _pointer in columns if name not in header]
        if missing:
            raise UserError(_("The file has no column %(columns)s.", columns=", ".join(missing)))
        name = self.file_name or "import.csv"
        stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        envelopes = []
        for number, row in enumerate(rows, start=2):  # line 1 is the header
            data = {}
            for column, pointer in columns:
                value = row.get(column)
                if value is None or value.strip() == "":
                    continue
                typed = _typed(value, _property_schema(schema, pointer))
                data = json_pointer.set_value(data, pointer, typed) if pointer else data
            envelope = {
                "specversion": "1.0",
                "id": (row.get("event_id") or "").strip() or f"{name}:{number}",
                "source": f"csv/{self.system_id.code}",
                "type": contract.code,
                "dataschema": f"urn:mfg:contract:{contract.code}:{contract.version}",
                "time": (row.get("time") or "").strip() or stamp,
                "data": data,
            }
            if (row.get("subject") or "").strip():
                envelope["subject"] = row["subject"].strip()
            envelopes.append((number, envelope))
        return envelopes

    def action_import(self):
        self.ensure_one()
        self.env["mfg.integration.contract"].check_access("write")
        try:
            text = base64.b64decode(self.file).decode("utf-8-sig")
        except (ValueError, UnicodeDecodeError) as error:
            raise UserError(_("The file is not UTF-8 text: %s", error)) from error
        header, rows = self._rows(text, self.delimiter)
        numbered = self._envelopes(header, rows)
        Event = self.env["mfg.integration.event"].sudo()
        envelopes = [envelope for _number, envelope in numbered]
        # a row without a time is stamped at the import: imported again, its stored time is
        # kept, so it is 'already imported', not refused as an id reused with other content
        Event._keep_stored_times(self.system_id, envelopes)
        results = Event._ingest(self.system_id, envelopes)
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        problems = []
        for (number, _envelope), result in zip(numbered, results, strict=True):
            counts[result["status"]] = counts.get(result["status"], 0) + 1
            if result["status"] == "rejected":
                error = result["error"]
                problems.append(
                    _(
                        "line %(line)s: %(message)s (%(pointer)s)",
                        line=number,
                        message=error["message"],
                        pointer=error.get("pointer") or "-",
                    )
                )
        summary = _(
            "%(accepted)s accepted, %(duplicate)s already imported, %(rejected)s refused.",
            **counts,
        )
        self.system_id.message_post(
            body=_(
                "CSV import of %(file)s (%(contract)s): %(summary)s",
                file=self.file_name or "-",
                contract=self.contract_id.display_name,
                summary=summary,
            )
        )
        self.result = "\n".join([summary, *problems[:200]])
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
