from odoo import _, api, fields, models
from odoo.exceptions import UserError


class MfgIntegrationReplayWizard(models.TransientModel):
    _name = "mfg.integration.replay.wizard"
    _description = "Replay Outbound Events"

    scope = fields.Selection(
        [("events", "These events"), ("range", "A system's events of a contract in a time range")],
        required=True,
        default="events",
    )
    event_ids = fields.Many2many("mfg.integration.event", string="Events")
    system_id = fields.Many2one("mfg.integration.system", string="System")
    contract_id = fields.Many2one(
        "mfg.integration.contract", string="Contract", domain=[("direction", "=", "outbound")]
    )
    date_from = fields.Datetime(string="From")
    date_to = fields.Datetime(string="To")
    reason = fields.Text(
        required=True,
        help="Why these events are sent again (kept in the history of each event and system).",
    )
    event_count = fields.Integer(compute="_compute_event_count", string="Events to Replay")

    @api.depends("scope", "event_ids", "system_id", "contract_id", "date_from", "date_to")
    def _compute_event_count(self):
        for wizard in self:
            wizard.event_count = len(wizard._events())

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        if context.get("active_model") == "mfg.integration.event" and context.get("active_ids"):
            values["event_ids"] = [(6, 0, context["active_ids"])]
            values["scope"] = "events"
        elif context.get("active_model") == "mfg.integration.system" and context.get("active_id"):
            values["system_id"] = context["active_id"]
            values["scope"] = "range"
        return values

    def action_replay(self):
        self.ensure_one()
        if self.scope == "range":
            if not (self.system_id and self.contract_id and self.date_from and self.date_to):
                raise UserError(_("Choose the system, the contract and the time range."))
            if self.date_from > self.date_to:
                raise UserError(_("The time range ends before it starts."))
        events = self._events()
        if not events:
            raise UserError(_("No delivered, failed, dead or discarded outbound event matches."))
        events._replay(self.reason)
        return {"type": "ir.actions.act_window_close"}

    def _events(self):
        self.ensure_one()
        Event = self.env["mfg.integration.event"]
        if self.scope == "events":
            return self.event_ids
        if not (self.system_id and self.contract_id and self.date_from and self.date_to):
            return Event.browse()
        return Event.search(
            [
                ("direction", "=", "outbound"),
                ("system_id", "=", self.system_id.id),
                ("event_type", "=", self.contract_id.code),
                ("received_at", ">=", self.date_from),
                ("received_at", "<=", self.date_to),
                ("state", "in", ("done", "failed", "dead", "discarded")),
            ],
            order="id",
        )
