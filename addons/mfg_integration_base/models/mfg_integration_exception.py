import hashlib
import json
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ..inbox.waiting import waiting_behind_events
from ..services.error_classes import ERROR_CLASSES, classify
from ..services.humanize import age
from .mfg_integration_mapping import MAPPING_KINDS


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
    error_class = fields.Selection(
        ERROR_CLASSES,
        index=True,
        tracking=True,
        help="What kind of failure: a wrong value, a missing reference (a code without a "
        "mapping, an order not there yet), the connection, an intermittent failure, a rate "
        "limit, a message too large or unreadable, a duplicate, a business rule, or an error "
        "in the program. Intermittent, connection and rate-limit failures were retried by "
        "themselves before this exception opened.",
    )
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
    reconciliation_rule_id = fields.Many2one(
        "mfg.integration.reconciliation.rule",
        string="Reconciliation Rule",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The rule whose run found this difference; a run that finds it healed resolves it.",
    )
    problem_id = fields.Many2one(
        "mfg.integration.problem",
        string="Same Problem",
        index=True,
        readonly=True,
        ondelete="set null",
        help="Exceptions with the same fingerprint (contract, reason and key fields).",
    )
    is_late = fields.Boolean(
        string="Past SLA", compute="_compute_is_late", search="_search_is_late"
    )
    due = fields.Char(
        string="Resolve By",
        compute="_compute_is_late",
        help="Time left before the deadline the contract's SLA gives, or how late it is.",
    )
    mapping_kind_label = fields.Char(string="Code Type", compute="_compute_can_create_mapping")
    can_create_mapping = fields.Boolean(compute="_compute_can_create_mapping")
    event_payload = fields.Text(related="event_id.payload_pretty", string="Data")
    waiting_behind_count = fields.Integer(
        string="Waiting Behind",
        compute="_compute_waiting_behind_count",
        help="Later events of the same business object that wait until this one is fixed or "
        "discarded (they are applied in order).",
    )

    def _compute_is_late(self):
        now = fields.Datetime.now()
        for exception in self:
            pending = exception.deadline and exception.state in ("open", "in_progress")
            exception.is_late = bool(pending and exception.deadline < now)
            if not pending:
                exception.due = False
            elif exception.is_late:
                exception.due = _(
                    "late by %(age)s", age=age((now - exception.deadline).total_seconds())
                )
            else:
                exception.due = _("in %(age)s", age=age((exception.deadline - now).total_seconds()))

    def _search_is_late(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("Search 'Past SLA' with yes or no."))
        late = [
            ("deadline", "<", fields.Datetime.now()),
            ("state", "in", ("open", "in_progress")),
        ]
        return late if (operator == "=") == value else ["!", "&", *late]

    def _compute_waiting_behind_count(self):
        open_ones = self.filtered(lambda x: x.event_id and x.state in ("open", "in_progress"))
        waiting = waiting_behind_events(self.env, open_ones.event_id.ids)
        for exception in self:
            held = waiting.get(exception.event_id.id) if exception in open_ones else None
            exception.waiting_behind_count = len(held or ())

    @api.depends("reason_code", "mapping_kind", "external_code", "state")
    def _compute_can_create_mapping(self):
        for exception in self:
            exception.can_create_mapping = bool(
                exception.reason_code == "mapping_missing"
                and exception.mapping_kind
                and exception.external_code
                and exception.state in ("open", "in_progress")
            )
            exception.mapping_kind_label = (
                MAPPING_KINDS.get(exception.mapping_kind, (False, exception.mapping_kind))[1]
                if exception.mapping_kind
                else False
            )

    @api.model_create_multi
    def create(self, vals_list):
        problems = self.env["mfg.integration.problem"].sudo()._for_fingerprints(vals_list)
        for vals in vals_list:
            if vals.get("fingerprint") and not vals.get("problem_id"):
                vals["problem_id"] = problems[vals["fingerprint"]]
            if not vals.get("error_class"):
                vals["error_class"] = classify(
                    vals.get("reason_code"), vals.get("category"), vals.get("details") or ""
                )
        exceptions = super().create(vals_list)
        exceptions.filtered("user_id")._schedule_resolve_activity()
        return exceptions

    def write(self, vals):
        result = super().write(vals)
        if vals.get("user_id"):
            self._schedule_resolve_activity()
        return result

    def action_retry(self):
        """Retry the events behind these exceptions (after fixing the cause); for an open
        circuit's exception, probe its system now."""
        circuits = self.filtered(lambda x: x.reason_code == "circuit_open" and not x.event_id)
        if circuits:
            circuits._probe_circuits()
        if self - circuits:
            (self - circuits)._retry_events()
        return True

    def action_discard(self, reason=None):
        self._check_open()
        if not reason or not reason.strip():
            raise UserError(_("Say why these events are discarded: the reason is kept for audit."))
        self._close(
            "discarded",
            reason,
            _("Discarded by %(user)s: %(reason)s", user=self.env.user.name, reason=reason),
        )
        self.mapped("event_id")._discard(reason)
        return True

    def action_view_waiting_events(self):
        """The later events of this exception's business object that wait behind it."""
        self.ensure_one()
        waiting = waiting_behind_events(self.env, self.event_id.ids).get(self.event_id.id) or []
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event"
        )
        action["domain"] = [("id", "in", waiting)]
        action["context"] = {}
        action["name"] = _("Waiting behind %(problem)s", problem=self.name)
        return action

    def action_assign_to_me(self):
        self.write({"user_id": self.env.uid, "state": "in_progress"})
        return True

    def action_create_mapping(self):
        """Open a new mapping line for the code, prefilled; saving it retries every open
        exception waiting on the same system, kind and code."""
        self.ensure_one()
        if not self.can_create_mapping:
            raise UserError(_("Only an open 'no mapping' exception can be fixed with a mapping."))
        mapping = self._mapping_for()
        return {
            "type": "ir.actions.act_window",
            "name": _("Map %(problem)s", problem=self.name),
            "res_model": "mfg.integration.mapping.line",
            "view_mode": "form",
            "views": [
                (
                    self.env.ref("mfg_integration_base.view_mfg_integration_mapping_line_form").id,
                    "form",
                )
            ],  # fmt: skip
            "target": "new",
            "context": {
                "default_mapping_id": mapping.id,
                "default_external_code": self.external_code,
                "dialog_size": "medium",
            },
        }

    def action_open_event(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mfg.integration.event",
            "res_id": self.event_id.id,
            "view_mode": "form",
        }

    def action_map_codes(self):
        """From a selection: map the codes the selected exceptions wait on. One code opens
        its mapping line; several open the list of those codes, each with Create Mapping."""
        fixable = self.filtered("can_create_mapping")
        if not fixable:
            raise UserError(_("None of the selected exceptions waits on a missing mapping."))
        keys = {(x.system_id.id, x.mapping_kind, x.external_code) for x in fixable}
        if len(keys) == 1:
            return fixable[0].action_create_mapping()
        domain = expression.OR(
            [
                [("system_id", "=", system), ("kind", "=", kind), ("external_code", "=", code)]
                for system, kind, code in sorted(keys)
            ]
        )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_unmapped_code"
        )
        action["domain"] = domain
        return action

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
        error_class=None,
        http_status=None,
    ):
        """Open (or reuse the event's still open) exception for a failed event."""
        key_fields = dict(key_fields or {})
        error_class = classify(
            reason_code, category, details, http_status=http_status, explicit=error_class
        )
        current = event.exception_id
        if current and current.state in ("open", "in_progress"):
            current.sudo().write(
                {
                    "name": message,
                    "reason_code": reason_code,
                    "category": category,
                    "error_class": error_class,
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
                    "error_class": error_class,
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

    def _retry_events(self):
        """Set-based, so a bulk retry of a thousand exceptions stays a short request: one
        write, one batch of chatter messages, and the events go to jobs in chunks."""
        self._check_open()
        events = self.mapped("event_id").filtered(
            lambda e: e.state in ("failed", "dead", "waiting")
        )
        self._close(
            "resolved",
            _("Retried"),
            _("Retried by %(user)s.", user=self.env.user.name),
        )
        events.action_retry()

    def _probe_circuits(self):
        """Open circuits' exceptions: probe the system now instead of after the cool-down
        (its events are retried by the dispatcher, not one by one)."""
        self._check_open()
        now = fields.Datetime.now()
        for exception in self:
            system = exception.system_id.sudo()
            if system.circuit_state == "open":
                system.circuit_opened_at = now - timedelta(seconds=system.circuit_cooldown_seconds)
            exception.message_post(body=_("Probe requested by %(user)s.", user=self.env.user.name))
        self.env["mfg.integration.event"].sudo()._schedule_dispatch(self.system_id.ids)

    def _close(self, state, resolution, body):
        """Resolve or discard, with one chatter line each, in a few statements."""
        self._message_log_batch(bodies=dict.fromkeys(self.ids, body))
        self.with_context(tracking_disable=True).write(
            {
                "state": state,
                "resolution": resolution,
                "resolved_by_id": self.env.uid,
                "resolved_on": fields.Datetime.now(),
            }
        )
        assigned = self.filtered("user_id")
        if assigned:
            assigned.activity_feedback(
                ["mfg_integration_base.mail_activity_type_exception"], feedback=resolution
            )

    def _schedule_resolve_activity(self):
        """A to-do for the assignee, due by the deadline the contract's SLA gave."""
        xmlid = "mfg_integration_base.mail_activity_type_exception"
        for exception in self.filtered(lambda e: e.state in ("open", "in_progress")):
            exception.activity_unlink([xmlid])
            deadline = exception.deadline or fields.Datetime.now()
            exception.sudo().activity_schedule(
                xmlid,
                date_deadline=fields.Date.context_today(exception, deadline),
                summary=exception.name[:200],
                user_id=exception.user_id.id,
            )

    def _mapping_for(self):
        """The (system, kind) mapping this missing-mapping exception needs; created if absent."""
        self.ensure_one()
        Mapping = self.env["mfg.integration.mapping"].sudo().with_context(active_test=False)
        mapping = Mapping.search(
            [("system_id", "=", self.system_id.id), ("kind", "=", self.mapping_kind)], limit=1
        )
        if not mapping:
            mapping = Mapping.create({"system_id": self.system_id.id, "kind": self.mapping_kind})
        elif not mapping.active:
            raise UserError(
                _(
                    "The mapping %(name)s is archived: ask an Integration Manager to restore it.",
                    name=mapping.name,
                )
            )
        return mapping

    @api.model
    def _resolve_moot(self, subject, body, direction="inbound", matching=None):
        """Resolve the open business exceptions of ``subject`` that a later fact made moot
        (its order was completed or cancelled), with ``body`` as the chatter line naming
        that fact; their events are discarded, so later events of the subject may go.
        ``matching``, a predicate on the exception's event, keeps only those it accepts."""
        exceptions = self.search(
            [
                ("subject", "=", subject),
                ("category", "=", "business"),
                ("state", "in", ("open", "in_progress")),
                ("event_id.direction", "=", direction),
            ]
        )
        if matching:
            exceptions = exceptions.filtered(lambda exception: matching(exception.event_id))
        if exceptions:
            exceptions._close("resolved", _("No longer needed"), body)
            exceptions.mapped("event_id").filtered(
                lambda e: e.state in ("failed", "dead", "waiting")
            )._discard(body)
        return exceptions

    @api.model
    def _retry_waiting_on_codes(self, keys, body):
        """Retry the open exceptions waiting on a mapping of these (system, kind, code)."""
        if not keys:
            return self.browse()
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT x.id
              FROM mfg_integration_exception x
              JOIN (SELECT * FROM unnest(%s::int[], %s::varchar[], %s::varchar[]))
                   AS k(system_id, kind, code)
                ON k.system_id = x.system_id AND k.kind = x.mapping_kind
               AND k.code = x.external_code
             WHERE x.reason_code = 'mapping_missing' AND x.state IN ('open', 'in_progress')
            """,
            [[key[0] for key in keys], [key[1] for key in keys], [key[2] for key in keys]],
        )
        exceptions = self.browse([row[0] for row in self.env.cr.fetchall()])
        if exceptions:
            exceptions._close("resolved", _("Mapping created"), body)
            exceptions.mapped("event_id").filtered(
                lambda e: e.state in ("failed", "dead", "waiting")
            ).action_retry()
        return exceptions
