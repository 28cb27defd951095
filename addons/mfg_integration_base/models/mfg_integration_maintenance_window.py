"""Maintenance windows: a planned outage of an external system (an SAP upgrade, a MES
release) during which Odoo neither delivers to it nor applies what it sent.

During a window the system's outbound events stay queued and its inbound events stay
queued: nothing spends an attempt, the circuit breaker does not count failures and no
exception opens. Both resume in order when the window ends (the jobs are planned for the
end; shortening or deleting a window resumes at once). Windows that touch or overlap make
one pause until the last of them ends.
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..inbox import jobs
from ..outbox import dispatcher


class MfgIntegrationMaintenanceWindow(models.Model):
    _name = "mfg.integration.maintenance.window"
    _description = "Integration Maintenance Window"
    _order = "date_from desc, id desc"

    system_id = fields.Many2one(
        "mfg.integration.system", required=True, ondelete="cascade", index=True
    )
    date_from = fields.Datetime(string="From", required=True)
    date_to = fields.Datetime(string="To", required=True)
    reason = fields.Char(required=True, help="Why the system is down, e.g. 'SAP upgrade to 2025'.")
    pause_inbound = fields.Boolean(
        string="Hold What It Sent",
        default=True,
        help="Do not apply the system's inbound events during the window (they wait, in order).",
    )
    pause_outbound = fields.Boolean(
        string="Hold Deliveries",
        default=True,
        help="Do not deliver outbound events to the system during the window.",
    )
    state = fields.Selection(
        [("planned", "Planned"), ("active", "In progress"), ("done", "Over")],
        compute="_compute_state",
        search="_search_state",
    )

    _sql_constraints = [
        ("dates_ordered", "CHECK(date_to > date_from)", "A window ends after it begins."),
    ]

    @api.depends("date_from", "date_to")
    def _compute_state(self):
        now = fields.Datetime.now()
        for window in self:
            if window.date_to and window.date_to <= now:
                window.state = "done"
            elif window.date_from and window.date_from <= now:
                window.state = "active"
            else:
                window.state = "planned"

    def _search_state(self, operator, value):
        if operator not in ("=", "in"):
            raise ValidationError(_("Maintenance windows are searched by state with = or in."))
        values = {value} if operator == "=" else set(value)
        now = fields.Datetime.now()
        domains = {
            "done": [("date_to", "<=", now)],
            "active": [("date_from", "<=", now), ("date_to", ">", now)],
            "planned": [("date_from", ">", now)],
        }
        result = []
        for state in values & set(domains):
            result = ["|", *result, *domains[state]] if result else domains[state]
        return result or [("id", "=", 0)]

    @api.constrains("pause_inbound", "pause_outbound")
    def _check_pauses_something(self):
        for window in self:
            if not (window.pause_inbound or window.pause_outbound):
                raise ValidationError(
                    _("A maintenance window holds deliveries, what the system sent, or both.")
                )

    def _describe(self):
        self.ensure_one()
        return _(
            "Maintenance window %(start)s to %(end)s (UTC): %(reason)s",
            start=self.date_from,
            end=self.date_to,
            reason=self.reason,
        )

    @api.model_create_multi
    def create(self, vals_list):
        windows = super().create(vals_list)
        for window in windows:
            window.system_id.message_post(body=_("Planned: %s", window._describe()))
        windows._resume_now()
        return windows

    def write(self, vals):
        result = super().write(vals)
        for window in self:
            window.system_id.message_post(body=_("Changed: %s", window._describe()))
        self._resume_now()
        return result

    def unlink(self):
        systems = self.system_id
        for window in self:
            window.system_id.message_post(body=_("Cancelled: %s", window._describe()))
        result = super().unlink()
        self.env["mfg.integration.maintenance.window"]._resume_systems(systems)
        return result

    def _resume_now(self):
        self._resume_systems(self.system_id)

    @api.model
    def _resume_systems(self, systems):
        """A window changed: what it held is looked at again now (a window still in force
        postpones it again to its new end, without an attempt)."""
        if not systems:
            return
        systems = systems.sudo()
        dispatcher.schedule_dispatch(
            self.env, systems.filtered("outbound_adapter").ids, eta=fields.Datetime.now()
        )
        held = (
            self.env["mfg.integration.event"]
            .sudo()
            .search(
                [
                    ("system_id", "in", systems.ids),
                    ("direction", "=", "inbound"),
                    ("state", "in", ("received", "queued")),
                ]
            )
        )
        if held:
            jobs.schedule_retry(held, fields.Datetime.now() + timedelta(seconds=1))
