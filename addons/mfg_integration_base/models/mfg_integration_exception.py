import hashlib
import json
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class MfgIntegrationException(models.Model):
    _name = "mfg.integration.exception"
    _description = "Integration Exception"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    name = fields.Char(string="Problem", required=True, tracking=True)
    event_id = fields.Many2one("mfg.integration.event", index=True, ondelete="set null")
    system_id = fields.Many2one("mfg.integration.system", index=True, required=True)
    contract_id = fields.Many2one("mfg.integration.contract", index=True)
    subject = fields.Char(help="The business object the event was about.")
    correlation_id = fields.Char(index=True)
    category = fields.Selection(
        [("business", "Business"), ("technical", "Technical")], required=True, index=True
    )
    reason_code = fields.Char(required=True, index=True)
    suggested_action = fields.Text()
    details = fields.Text(
        string="Technical Details",
        groups="mfg_integration_base.group_mfg_integration_manager",
    )
    key_fields = fields.Json(readonly=True)
    fingerprint = fields.Char(
        index=True, readonly=True, help="Identical failures share a fingerprint and group."
    )
    mapping_kind = fields.Char(readonly=True)
    external_code = fields.Char(readonly=True, index=True)
    severity = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High")], default="medium", tracking=True
    )
    user_id = fields.Many2one("res.users", string="Assigned To", tracking=True, index=True)
    state = fields.Selection(
        [
            ("open", "Open"),
            ("in_progress", "In Progress"),
            ("resolved", "Resolved"),
            ("discarded", "Discarded"),
        ],
        default="open",
        required=True,
        tracking=True,
        index=True,
    )
    resolution = fields.Text(tracking=True)
    resolved_by_id = fields.Many2one("res.users", readonly=True)
    resolved_on = fields.Datetime(readonly=True)
    deadline = fields.Datetime(help="Resolve before: from the contract's SLA.")

    @api.model
    def _fingerprint(self, contract, reason_code, key_fields):
        material = json.dumps(
            [contract.code if contract else "", reason_code, key_fields or {}], sort_keys=True
        )
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    @api.model
    def _open_for_event(
        self,
        event,
        category,
        reason_code,
        message,
        suggested_action="",
        key_fields=None,
        details="",
    ):
        """Open (or reuse the event's still open) exception for a failed event."""
        key_fields = dict(key_fields or {})
        current = event.exception_id
        if current and current.state in ("open", "in_progress"):
            current.sudo().write(
                {
                    "name": message,
                    "reason_code": reason_code,
                    "category": category,
                    "suggested_action": suggested_action,
                    "details": details,
                }
            )
            return current
        contract = event.contract_id
        deadline = fields.Datetime.now() + timedelta(seconds=max(contract.sla_latency_seconds, 60))
        return (
            self.sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            .create(
                {
                    "name": message,
                    "event_id": event.id,
                    "system_id": event.system_id.id,
                    "contract_id": contract.id,
                    "subject": event.subject,
                    "correlation_id": event.correlation_id,
                    "category": category,
                    "reason_code": reason_code,
                    "suggested_action": suggested_action,
                    "details": details,
                    "key_fields": key_fields,
                    "fingerprint": self._fingerprint(contract, reason_code, key_fields),
                    "mapping_kind": key_fields.get("kind")
                    if reason_code == "mapping_missing"
                    else False,
                    "external_code": key_fields.get("external_code"),
                    "severity": "high" if category == "technical" else "medium",
                    "deadline": deadline,
                }
            )
        )

    def _check_open(self):
        closed = self.filtered(lambda e: e.state not in ("open", "in_progress"))
        if closed:
            raise UserError(_("Exceptions already resolved or discarded cannot be worked again."))

    def action_retry(self):
        """Retry the events behind these exceptions (after fixing the cause)."""
        self._check_open()
        events = self.mapped("event_id").filtered(
            lambda e: e.state in ("failed", "dead", "waiting")
        )
        for exception in self:
            exception.message_post(body=_("Retried by %(user)s.", user=self.env.user.name))
        self.write(
            {
                "state": "resolved",
                "resolution": _("Retried"),
                "resolved_by_id": self.env.uid,
                "resolved_on": fields.Datetime.now(),
            }
        )
        events.action_retry()
        return True

    def action_discard(self, reason=None):
        self._check_open()
        if not reason or not reason.strip():
            raise UserError(_("Say why these events are discarded: the reason is kept for audit."))
        for exception in self:
            exception.message_post(
                body=_("Discarded by %(user)s: %(reason)s", user=self.env.user.name, reason=reason)
            )
        self.write(
            {
                "state": "discarded",
                "resolution": reason,
                "resolved_by_id": self.env.uid,
                "resolved_on": fields.Datetime.now(),
            }
        )
        self.mapped("event_id")._discard(reason)
        return True

    def action_assign_to_me(self):
        self.write({"user_id": self.env.uid, "state": "in_progress"})
        return True

    # -- reconciliation ---------------------------------------------------------------------

    reconciliation_rule_id = fields.Many2one(
        "mfg.integration.reconciliation.rule",
        string="Reconciliation Rule",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The rule whose run found this difference; a run that finds it healed resolves it.",
    )
