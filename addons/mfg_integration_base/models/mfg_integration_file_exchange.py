"""Legacy file exchange: CSV columns per contract, and the acknowledgements read back.

See adapters/csv_file.py for the folder layout.
"""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..adapters import csv_file
from ..outbox.outcomes import fail_refused
from ..services import json_pointer
from ..services.delivery_policy import Outcome

_logger = logging.getLogger(__name__)


class MfgIntegrationFileColumn(models.Model):
    _name = "mfg.integration.file.column"
    _description = "Integration File Column"
    _order = "contract_id, sequence, id"

    contract_id = fields.Many2one(
        "mfg.integration.contract", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    header = fields.Char(required=True, help="The column's title in the file's first line.")
    pointer = fields.Char(
        string="Data Field",
        required=True,
        help="Where the value is in the event's data, as a JSON pointer, e.g. /qty or "
        "/lots/0/name.",
    )

    @api.constrains("pointer", "header")
    def _check_pointer(self):
        for column in self:
            try:
                json_pointer.parse(column.pointer)
            except json_pointer.PointerError as error:
                raise ValidationError(str(error)) from error
            if column.header.strip().lower() in (csv_file.EVENT_ID_COLUMN, csv_file.ERROR_COLUMN):
                raise ValidationError(
                    _("'%s' is a column the file exchange uses itself.", column.header)
                )

    @api.model
    def _columns_by_contract(self):
        """((contract code, ((header, pointer), ...)), ...) for the adapter's settings."""
        table = {}
        for column in self.search([("contract_id", "!=", False)]):
            table.setdefault(column.contract_id.code, []).append((column.header, column.pointer))
        return tuple(sorted((code, tuple(columns)) for code, columns in table.items()))


class MfgIntegrationEvent(models.Model):
    _inherit = "mfg.integration.event"

    acknowledged_at = fields.Datetime(
        readonly=True,
        help="When the receiving system acknowledged the event (a file exchange's done folder).",
    )


class MfgIntegrationSystem(models.Model):
    _inherit = "mfg.integration.system"

    @api.model
    def _cron_read_file_acknowledgements(self):
        """Read the done/ and error/ folders of every CSV-file system; returns
        (acknowledged, refused) counts."""
        acknowledged = refused = 0
        Event = self.env["mfg.integration.event"].sudo()
        for system in self.sudo().search([("outbound_adapter", "=", "csv_file")]):
            folder = csv_file.system_folder(system.code)
            try:
                files = csv_file.read_acknowledgements(folder)
            except OSError as error:
                _logger.warning("Reading acknowledgements of %s failed: %s", system.code, error)
                continue
            for state, name, rows in files:
                events = Event.search(
                    [
                        ("system_id", "=", system.id),
                        ("direction", "=", "outbound"),
                        ("event_uid", "in", list(rows)),
                    ]
                )
                if state == "done":
                    events.filtered(lambda e: not e.acknowledged_at).write(
                        {"acknowledged_at": fields.Datetime.now()}
                    )
                    acknowledged += len(events)
                    continue
                for event in events.filtered(lambda e: e.state == "done"):
                    reason = rows.get(event.event_uid) or _("no reason given")
                    fail_refused(
                        event,
                        Outcome(
                            "business",
                            None,
                            _("%(file)s came back in error/: %(reason)s", file=name, reason=reason),
                            error_class="business_rule",
                        ),
                    )
                    refused += 1
        return acknowledged, refused
