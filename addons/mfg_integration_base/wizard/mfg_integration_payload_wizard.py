import json

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..services import json_pointer, schema_validation


class MfgIntegrationPayloadWizard(models.TransientModel):
    """Correct the data of failed events and retry them.

    One exception: edit the whole payload in a JSON editor. Several: set one value at a
    JSON pointer in each of their payloads (e.g. /workcenter to "LINE-7"). Every new
    payload is validated against its contract's schema before anything is saved; the
    original payload stays on the event and the change is logged in both chatters.
    """

    _name = "mfg.integration.payload.wizard"
    _inherit = ["mfg.integration.exception.selection"]
    _description = "Edit Payload and Retry"

    exception_ids = fields.Many2many("mfg.integration.exception", string="Exceptions")
    exception_count = fields.Integer(compute="_compute_exception_count")
    payload = fields.Text(string="Data", help="The event's data, as JSON.")
    pointer = fields.Char(
        string="Field (JSON pointer)",
        help="Where to set the value, e.g. /workcenter or /lines/0/qty",
    )
    value = fields.Char(string="New Value (JSON)", help='e.g. "LINE-7" (with quotes), 12 or true')
    check = fields.Char(compute="_compute_check", string="Check")
    check_ok = fields.Boolean(compute="_compute_check")

    @api.depends("exception_ids")
    def _compute_exception_count(self):
        for wizard in self:
            wizard.exception_count = len(wizard.exception_ids)

    @api.depends("payload", "pointer", "value", "exception_ids")
    def _compute_check(self):
        for wizard in self:
            try:
                wizard._new_payloads()
            except (UserError, ValidationError) as error:
                wizard.check, wizard.check_ok = str(error.args[0]), False
            else:
                wizard.check = _("Valid against the contract's schema.")
                wizard.check_ok = True

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if values.get("exception_ids"):
            exceptions = self.env["mfg.integration.exception"].browse(values["exception_ids"][0][2])
            if len(exceptions) == 1 and exceptions.event_id.payload is not None:
                values["payload"] = json.dumps(
                    exceptions.event_id.payload, indent=2, ensure_ascii=False
                )
        return values

    def action_apply(self):
        self.exception_ids._check_open()
        changes = self._new_payloads()
        for event, new in changes.items():
            differences = json_pointer.diff(event.payload, new)
            if not differences:
                continue
            body = Markup("%s<ul>%s</ul>") % (
                _("Data corrected by %(user)s before retry:", user=self.env.user.name),
                Markup().join(
                    Markup("<li><code>%s</code>: %s → %s</li>")
                    % (escape(pointer), escape(old), escape(new_value))
                    for pointer, old, new_value in differences
                ),
            )
            values = {"payload": new}
            if event.original_payload is None or event.original_payload is False:
                values["original_payload"] = event.payload
            event.sudo().write(values)
            event.sudo().message_post(body=body)
            event.exception_id.message_post(body=body)
        self.exception_ids.action_retry()
        return {"type": "ir.actions.act_window_close"}

    def _events(self):
        events = self.exception_ids.mapped("event_id")
        if not events:
            raise UserError(_("These exceptions have no event to correct."))
        purged = events.filtered("payload_purged")
        if purged:
            raise UserError(_("The data of %(event)s was purged.", event=purged[0].display_name))
        return events

    def _new_payloads(self):
        """{event: new payload}, each validated; raises with the first problem found."""
        events = self._events()
        if len(self.exception_ids) == 1:
            try:
                new = json.loads(self.payload or "")
            except ValueError as error:
                raise ValidationError(
                    _("The data is not valid JSON: %(error)s", error=error)
                ) from None
            changes = {events: new}
        else:
            if not self.pointer or not self.value:
                raise ValidationError(_("Say which field to set (JSON pointer) and its new value."))
            try:
                value = json.loads(self.value)
            except ValueError:
                raise ValidationError(
                    _('The new value must be JSON: text in double quotes, e.g. "LINE-7".')
                ) from None
            changes = {}
            for event in events:
                try:
                    changes[event] = json_pointer.set_value(event.payload, self.pointer, value)
                except json_pointer.PointerError as error:
                    raise ValidationError(
                        _("%(event)s: %(error)s", event=event.display_name, error=error)
                    ) from None
        for event, new in changes.items():
            errors = schema_validation.validation_errors(event.contract_id._validator(), new)
            if errors:
                pointer, sentence = errors[0]
                raise ValidationError(
                    _(
                        "%(event)s does not match %(contract)s at %(pointer)s: %(error)s",
                        event=event.display_name,
                        contract=event.contract_id.display_name,
                        pointer=pointer or "/",
                        error=sentence,
                    )
                )
        return changes
