from odoo import _, fields, models
from odoo.exceptions import UserError

MANAGER_GROUP = "mfg_integration_base.group_mfg_integration_manager"


class MfgIntegrationShadowMixin(models.AbstractModel):
    """Shadow mode beside a legacy interface, switched with four eyes.

    A contract (every system's events of it) or a system (all its events) runs in shadow
    mode: events are processed and rolled back, what they would have done is stored on the
    event. One Integration Manager requests the switch to live (or the fallback to shadow),
    another approves it; both steps are logged in the chatter. The inheriting model must
    also inherit ``mail.thread``.
    """

    _name = "mfg.integration.shadow.mixin"
    _description = "Shadow Mode (four-eyes switch)"
    # only the request and approval actions below change these (with the context key)
    _SHADOW_SWITCH_FIELDS = frozenset(
        {
            "shadow_mode",
            "shadow_switch_request",
            "shadow_switch_requested_by_id",
            "shadow_switch_requested_on",
        }
    )

    shadow_mode = fields.Boolean(
        readonly=True,
        copy=False,
        tracking=True,
        help="Events are validated, mapped and run through their handler, then rolled back: "
        "the legacy interface still does the work, and what this path would have done is "
        "stored on each event for reconciliation. Switched by an approved request.",
    )
    shadow_switch_request = fields.Selection(
        [("live", "Switch to live"), ("shadow", "Fall back to shadow")],
        readonly=True,
        copy=False,
        tracking=True,
    )
    shadow_switch_requested_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    shadow_switch_requested_on = fields.Datetime(readonly=True, copy=False)

    def write(self, vals):
        if self._SHADOW_SWITCH_FIELDS.intersection(vals) and not self.env.context.get(
            "mfg_shadow_switch"
        ):
            raise UserError(
                _("Shadow mode is switched by a request that another Integration Manager approves.")
            )
        return super().write(vals)

    def action_request_live(self):
        """Ask to cut over: the legacy interface stops, this path applies events for real."""
        return self._request_shadow_switch("live")

    def action_request_shadow(self):
        """Ask to fall back: the legacy interface takes over again, this path only records."""
        return self._request_shadow_switch("shadow")

    def action_approve_shadow_switch(self):
        for record in self:
            if not record.shadow_switch_request:
                raise UserError(_("%(name)s has no pending switch.", name=record.display_name))
            record._check_approver(
                record.shadow_switch_requested_by_id,
                _("You requested this switch of %(name)s", name=record.display_name),
            )
            target = record.shadow_switch_request
            requester = record.shadow_switch_requested_by_id
            record._write_shadow_switch(
                {
                    "shadow_mode": target == "shadow",
                    "shadow_switch_request": False,
                    "shadow_switch_requested_by_id": False,
                    "shadow_switch_requested_on": False,
                }
            )
            record.message_post(
                body=_(
                    "%(what)s: requested by %(requester)s, approved by %(approver)s.",
                    what=_("Switched from shadow to live")
                    if target == "live"
                    else _("Fell back from live to shadow mode"),
                    requester=requester.name,
                    approver=self.env.user.name,
                )
            )
        return True

    def action_cancel_shadow_switch(self):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise UserError(_("Only an Integration Manager can withdraw a shadow mode switch."))
        for record in self.filtered("shadow_switch_request"):
            record._write_shadow_switch(
                {
                    "shadow_switch_request": False,
                    "shadow_switch_requested_by_id": False,
                    "shadow_switch_requested_on": False,
                }
            )
            record.message_post(
                body=_("%(user)s withdrew the pending switch.", user=self.env.user.name)
            )
        return True

    def _check_approver(self, requester, what):
        """Four eyes: the user must be an Integration Manager other than ``requester``.

        Shared by contract approval and shadow switches."""
        if not self.env.user.has_group(MANAGER_GROUP):
            raise UserError(_("Only an Integration Manager can approve this."))
        if requester == self.env.user:
            raise UserError(_("%(what)s: another Integration Manager must approve it.", what=what))

    def _check_shadow_switchable(self):
        """Raise when this record cannot run in shadow mode (models refine it)."""

    def _write_shadow_switch(self, values):
        return self.with_context(mfg_shadow_switch=True).write(values)

    def _request_shadow_switch(self, target):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise UserError(_("Only an Integration Manager can request a shadow mode switch."))
        for record in self:
            record._check_shadow_switchable()
            if record.shadow_mode == (target == "shadow"):
                raise UserError(
                    _(
                        "%(name)s already runs %(mode)s.",
                        name=record.display_name,
                        mode=_("in shadow mode") if record.shadow_mode else _("live"),
                    )
                )
            record._write_shadow_switch(
                {
                    "shadow_switch_request": target,
                    "shadow_switch_requested_by_id": self.env.uid,
                    "shadow_switch_requested_on": fields.Datetime.now(),
                }
            )
            record.message_post(
                body=_(
                    "%(user)s requests to %(what)s; another Integration Manager must approve.",
                    user=self.env.user.name,
                    what=_("switch from shadow to live")
                    if target == "live"
                    else _("fall back from live to shadow mode"),
                )
            )
        return True
