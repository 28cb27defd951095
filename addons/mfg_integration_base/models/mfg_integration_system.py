import logging
import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..inbox.waiting import waiting_behind_failures_per_system
from ..services import adapters as delivery_adapters
from ..services import webhook_signature
from ..services.humanize import age
from .mfg_integration_metrics import OVERVIEW_FIGURES, OVERVIEW_LATENCIES

_logger = logging.getLogger(__name__)

API_KEY_SCOPE = "mfg_integration"
SYSTEM_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")


class MfgIntegrationSystem(models.Model):
    _name = "mfg.integration.system"
    _description = "External System"
    _inherit = ["mail.thread", "mail.activity.mixin", "mfg.integration.shadow.mixin"]
    _order = "name"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(
        required=True,
        tracking=True,
        help="Short technical name, e.g. 'mes_plant1'. Used in logs, metrics and the API.",
    )
    kind = fields.Selection(
        [
            ("mes", "MES"),
            ("erp", "ERP"),
            ("edge", "Edge gateway"),
            ("quality", "Quality system"),
            ("cmms", "Maintenance system"),
            ("supplier", "Supplier"),
        ],
        required=True,
        default="mes",
        tracking=True,
    )
    active = fields.Boolean(default=True, tracking=True)
    description = fields.Text()
    user_id = fields.Many2one(
        "res.users",
        string="Technical User",
        readonly=True,
        copy=False,
        ondelete="restrict",
        tracking=True,
        help="The API-only user whose key this system uses. Created by 'Generate API key'.",
    )
    allowed_contract_ids = fields.Many2many(
        "mfg.integration.contract",
        string="Allowed Contracts",
        tracking=True,
        help="Inbound contracts this system may post, and outbound contracts it receives. "
        "Allowing one version of a contract allows its other versions too.",
    )
    rate_limit_per_minute = fields.Integer(
        string="Rate Limit (events/min)",
        default=60000,
        tracking=True,
        help="Events this system may post per minute, across all Odoo workers. 0 = no limit.",
    )
    max_payload_bytes = fields.Integer(string="Payload Cap (bytes)", default=1048576, tracking=True)
    max_batch_events = fields.Integer(string="Batch Cap (events)", default=500, tracking=True)
    retention_days = fields.Integer(
        default=90,
        tracking=True,
        help="Payloads of processed events are purged after this many days; the event "
        "ids are kept at least as long, so late resends are still answered 'duplicate'.",
    )
    # Outbound delivery settings (used by delivery adapters).
    outbound_url = fields.Char(string="Outbound Endpoint", tracking=True)
    signing_secret = fields.Char(
        groups="mfg_integration_base.group_mfg_integration_manager",
        copy=False,
        help="Shared secret for Standard Webhooks signatures (HMAC-SHA256), 'whsec_' form.",
    )
    signing_secret_kind = fields.Selection(
        [
            ("none", "Not set"),
            ("standard", "Standard Webhooks (whsec_)"),
            ("plain", "Plain text: official Standard Webhooks libraries cannot verify it"),
        ],
        string="Signing Secret",
        compute="_compute_signing_secret_kind",
        compute_sudo=True,
    )
    new_signing_secret = fields.Char(
        string="Paste Signing Secret",
        compute="_compute_new_signing_secret",
        inverse="_inverse_new_signing_secret",
        groups="mfg_integration_base.group_mfg_integration_manager",
        help="A whsec_ secret the receiving system issued. Write-only: Odoo never shows the "
        "stored secret again.",
    )
    require_signature = fields.Boolean(
        help="Refuse inbound requests without a valid webhook signature.", tracking=True
    )
    # Circuit breaker of outbound delivery: maintained by the delivery code, shown on the
    # system form and the overview.
    circuit_state = fields.Selection(
        [
            ("closed", "Closed (delivering)"),
            ("open", "Open (paused)"),
            ("half_open", "Half-open (probing)"),
        ],
        string="Circuit Breaker",
        default="closed",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
    )
    circuit_opened_at = fields.Datetime(readonly=True, copy=False)
    consecutive_failures = fields.Integer(readonly=True, copy=False)
    # Health, as last reported.
    last_seen_at = fields.Datetime(readonly=True, copy=False)
    agent_version = fields.Char(readonly=True, copy=False)
    reported_backlog = fields.Integer(readonly=True, copy=False)
    reported_oldest_age_s = fields.Float(
        string="Oldest Buffered Event Age (s)", readonly=True, copy=False
    )
    reported_dead_letters = fields.Integer(readonly=True, copy=False)
    last_heartbeat_at = fields.Datetime(readonly=True, copy=False)
    clock_synchronised = fields.Boolean(readonly=True, copy=False, default=True)
    edge_rule_ids = fields.One2many(
        "mfg.integration.edge.rule",
        "system_id",
        string="Edge Rules",
        context={"active_test": False},
        help="Rules the system's edge agent pulls from GET /mfg/v1/edge/config.",
    )
    event_count = fields.Integer(compute="_compute_counts")
    open_exception_count = fields.Integer(compute="_compute_counts")
    outbound_adapter = fields.Selection(
        [("webhook", "Webhook (HTTP POST, signed)")],
        string="Delivery Adapter",
        tracking=True,
        help="How outbound events reach this system. Empty: it receives no outbound events.",
    )
    outbound_connect_timeout = fields.Float(
        string="Connect Timeout (s)", default=5.0, tracking=True
    )
    outbound_read_timeout = fields.Float(
        string="Answer Timeout (s)",
        default=30.0,
        tracking=True,
        help="How long to wait for the receiver's answer before the attempt counts as failed.",
    )
    outbound_verify_tls = fields.Boolean(
        string="Verify TLS Certificate",
        default=True,
        tracking=True,
        help="Check the endpoint's certificate. Turn off only for a test endpoint.",
    )
    outbound_ca_bundle = fields.Char(
        string="CA Bundle",
        tracking=True,
        help="Path on the Odoo server of the CA certificates that sign the endpoint's "
        "certificate (a plant's own CA); empty: the system's trusted CAs.",
    )
    outbound_parallel = fields.Integer(
        string="Parallel Connections",
        default=4,
        tracking=True,
        help="Connections used side by side; events of one subject always go one after "
        "the other.",
    )
    outbound_batch_size = fields.Integer(
        string="Events per Request",
        default=100,
        tracking=True,
        help="For contracts that allow batch delivery: events sent in one request.",
    )
    circuit_failure_threshold = fields.Integer(
        string="Open Circuit After (failures)",
        default=5,
        tracking=True,
        help="Consecutive technical failures that pause delivery to this system.",
    )
    circuit_cooldown_seconds = fields.Integer(
        string="Circuit Cool-down (s)",
        default=60,
        tracking=True,
        help="How long delivery stays paused before one event probes the system.",
    )
    circuit_exception_id = fields.Many2one(
        "mfg.integration.exception", string="Circuit Exception", readonly=True, copy=False
    )
    outbound_resume_at = fields.Datetime(
        string="Paused Until",
        readonly=True,
        copy=False,
        help="The system asked Odoo to wait (Retry-After) until then.",
    )
    outbound_backlog = fields.Integer(
        compute="_compute_outbound_backlog",
        string="Outbound Backlog",
        help="Outbound events not yet delivered (queued, failed or dead).",
    )
    received_24h = fields.Integer(string="Received (24 h)", compute="_compute_overview")
    done_24h = fields.Integer(string="Done (24 h)", compute="_compute_overview")
    failed_24h = fields.Integer(string="Failed (24 h)", compute="_compute_overview")
    duplicates_24h = fields.Integer(string="Duplicates (24 h)", compute="_compute_overview")
    backlog = fields.Integer(
        compute="_compute_overview", help="Events received but not yet applied."
    )
    oldest_waiting_s = fields.Integer(
        string="Oldest Waiting (s)",
        compute="_compute_overview",
        help="Age of the oldest event not yet applied.",
    )
    oldest_waiting = fields.Char(string="Oldest Waiting", compute="_compute_overview")
    waiting_behind_exceptions = fields.Integer(
        string="Waiting Behind Exceptions",
        compute="_compute_waiting_behind_exceptions",
        help="This system's events not yet applied because an earlier event of the same "
        "business object failed: they go once its exception is fixed or discarded.",
    )
    latency_p95_s = fields.Float(
        string="p95 Latency (s)",
        compute="_compute_overview",
        digits=(16, 2),
        help="95% of the events applied in the last 24 h took at most this long from "
        "occurrence to Odoo.",
    )
    sla_breaches_24h = fields.Integer(
        string="SLA Breaches (24 h)",
        compute="_compute_overview",
        help="Events of the last 24 h applied later than their contract's SLA, plus "
        "events still waiting past it.",
    )
    last_seen = fields.Char(
        compute="_compute_overview", help="How long ago the system last called."
    )
    sends_to_odoo = fields.Boolean(
        compute="_compute_sends_to_odoo",
        help="The system may send inbound events (an inbound contract is allowed): the "
        "overview shows what it sent.",
    )
    delivered_24h = fields.Integer(string="Delivered (24 h)", compute="_compute_overview")
    delivery_failed_24h = fields.Integer(
        string="Refused (24 h)",
        compute="_compute_overview",
        help="Outbound events the system refused in the last 24 h (business exceptions).",
    )
    dead_24h = fields.Integer(
        string="Dead (24 h)",
        compute="_compute_overview",
        help="Outbound events given up after their last delivery attempt in the last 24 h.",
    )
    retries_24h = fields.Integer(
        string="Retries (24 h)",
        compute="_compute_overview",
        help="Failed delivery attempts scheduled to be tried again in the last 24 h.",
    )
    delivery_latency_p95_s = fields.Float(
        string="p95 Delivery Latency (s)",
        compute="_compute_overview",
        digits=(16, 2),
        help="95% of the outbound events delivered in the last 24 h took at most this long "
        "from emitted in Odoo to accepted by the system.",
    )
    last_delivery = fields.Char(
        compute="_compute_overview",
        help="How long ago an outbound event was last delivered (within the last 24 h).",
    )
    health = fields.Selection(
        [("ok", "Healthy"), ("warning", "Needs attention"), ("danger", "Failing")],
        compute="_compute_overview",
    )

    _sql_constraints = [
        ("code_unique", "unique(code)", "Another system already uses this code."),
        (
            "caps_positive",
            "CHECK(max_payload_bytes > 0 AND max_batch_events > 0 AND rate_limit_per_minute >= 0)",
            "Payload cap and batch cap must be positive; the rate limit cannot be negative.",
        ),
        ("retention_min", "CHECK(retention_days >= 3)", "Retention is at least 3 days (72 h)."),
        (
            "outbound_settings_positive",
            "CHECK(outbound_connect_timeout > 0 AND outbound_read_timeout > 0 "
            "AND outbound_parallel > 0 AND outbound_batch_size > 0 "
            "AND circuit_failure_threshold > 0 AND circuit_cooldown_seconds >= 0)",
            "Timeouts, parallel connections, events per request and the circuit threshold "
            "must be positive.",
        ),
    ]

    def _compute_counts(self):
        events = self.env["mfg.integration.event"]._read_group(
            [("system_id", "in", self.ids)], ["system_id"], ["__count"]
        )
        exceptions = self.env["mfg.integration.exception"]._read_group(
            [("system_id", "in", self.ids), ("state", "in", ("open", "in_progress"))],
            ["system_id"],
            ["__count"],
        )
        event_counts = {system.id: count for system, count in events}
        exception_counts = {system.id: count for system, count in exceptions}
        for system in self:
            system.event_count = event_counts.get(system.id, 0)
            system.open_exception_count = exception_counts.get(system.id, 0)

    def _compute_outbound_backlog(self):
        groups = self.env["mfg.integration.event"]._read_group(
            [
                ("system_id", "in", self.ids),
                ("direction", "=", "outbound"),
                ("state", "in", ("queued", "failed", "dead")),
            ],
            ["system_id"],
            ["__count"],
        )
        counts = {system.id: count for system, count in groups}
        for system in self:
            system.outbound_backlog = counts.get(system.id, 0)

    def _compute_waiting_behind_exceptions(self):
        counts = waiting_behind_failures_per_system(self.env, self.ids)
        for system in self:
            system.waiting_behind_exceptions = counts.get(system.id, 0)

    @api.depends("allowed_contract_ids.direction")
    def _compute_sends_to_odoo(self):
        for system in self:
            system.sends_to_odoo = "inbound" in system.allowed_contract_ids.mapped("direction")

    def _compute_overview(self):
        stats = self.env["mfg.integration.metrics"]._system_overview(self.ids)
        now = fields.Datetime.now()
        for system in self:
            row = stats.get(system.id, {})
            for name in OVERVIEW_FIGURES:
                if name in self._fields and name not in OVERVIEW_LATENCIES:
                    system[name] = int(row.get(name) or 0)
            for name in OVERVIEW_LATENCIES:
                system[name] = row.get(name) or 0.0
            system.oldest_waiting = age(system.oldest_waiting_s) if system.backlog else "-"
            system.last_seen = (
                _("%(age)s ago", age=age((now - system.last_seen_at).total_seconds()))
                if system.last_seen_at
                else _("never")
            )
            last_delivery_age = row.get("last_delivery_age_s")
            system.last_delivery = (
                _("%(age)s ago", age=age(last_delivery_age))
                if last_delivery_age is not None
                else "-"
            )
            open_exceptions = row.get("open_exceptions") or 0
            failed = system.failed_24h + system.delivery_failed_24h + system.dead_24h
            if system.circuit_state == "open" or (open_exceptions and failed):
                system.health = "danger"
            elif open_exceptions or system.sla_breaches_24h or system.circuit_state != "closed":
                system.health = "warning"
            else:
                system.health = "ok"

    @api.depends("signing_secret")
    def _compute_signing_secret_kind(self):
        for system in self:
            system.signing_secret_kind = webhook_signature.secret_kind(system.signing_secret)

    def _compute_new_signing_secret(self):
        # write-only: the stored secret is never sent back to the browser
        self.new_signing_secret = False

    def _inverse_new_signing_secret(self):
        for system in self.filtered("new_signing_secret"):
            system.signing_secret = system.new_signing_secret.strip()
            system.message_post(
                body=_("A signing secret was entered by %(user)s.", user=self.env.user.name)
            )

    @api.constrains("signing_secret")
    def _check_signing_secret(self):
        # Only new values are checked: legacy plain secrets keep signing until replaced.
        for system in self.sudo():
            if system.signing_secret:
                problem = webhook_signature.secret_problem(system.signing_secret)
                if problem:
                    raise ValidationError(problem)

    @api.constrains("code")
    def _check_code(self):
        for system in self:
            if not SYSTEM_CODE.match(system.code or ""):
                raise ValidationError(
                    _(
                        "System code '%(code)s' must be 2-64 lower-case letters, digits, "
                        "'_', '-' or '.'.",
                        code=system.code,
                    )
                )

    def action_generate_api_key(self):
        """Create the technical user if needed and show a new API key once."""
        self.ensure_one()
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise UserError(_("Only an Integration Manager can generate API keys."))
        key = self._generate_api_key()
        wizard = self.env["mfg.integration.api.key.wizard"].create(
            {"system_id": self.id, "api_key": key}
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("API key for %(name)s", name=self.name),
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_generate_signing_secret(self):
        """Replace the signing secret with a new whsec_ secret and show it once."""
        self.ensure_one()
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise UserError(_("Only an Integration Manager can generate signing secrets."))
        secret = webhook_signature.generate_secret()
        self.sudo().signing_secret = secret
        self.message_post(
            body=_(
                "A new signing secret was generated by %(user)s: deliveries are signed with it "
                "from now on, and the receiver must be given it.",
                user=self.env.user.name,
            )
        )
        wizard = self.env["mfg.integration.signing.secret.wizard"].create(
            {"system_id": self.id, "signing_secret": secret}
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Signing secret for %(name)s", name=self.name),
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_revoke_api_keys(self):
        for system in self.filtered("user_id"):
            keys = (
                self.env["res.users.apikeys"].sudo().search([("user_id", "=", system.user_id.id)])
            )
            keys._remove()
            system.message_post(body=_("All API keys of the technical user were revoked."))

    def action_view_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event"
        )
        action["domain"] = [("system_id", "=", self.id)]
        action["context"] = {"default_system_id": self.id}
        return action

    def action_view_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_exception"
        )
        action["domain"] = [("system_id", "=", self.id)]
        action["context"] = {"search_default_open": 1}
        return action

    def action_reset_circuit(self):
        """Close the circuit breaker by hand (the system is known to be back)."""
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise UserError(_("Only an Integration Manager can reset a circuit breaker."))
        for system in self:
            system.sudo()._close_circuit(
                _("Circuit breaker reset by %(user)s.", user=self.env.user.name)
            )
        self.env["mfg.integration.event"].sudo()._schedule_dispatch(self.ids)
        return True

    def action_view_event_analysis(self):
        """The system's events by hour and state (graph and pivot)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event_analysis"
        )
        action["domain"] = [("system_id", "=", self.id)]
        action["display_name"] = _("Traffic of %(name)s", name=self.name)
        return action

    def _allows(self, contract):
        """True when this system may post ``contract`` (any version of an allowed code)."""
        self.ensure_one()
        return contract.code in set(self.allowed_contract_ids.mapped("code"))

    def _ensure_technical_user(self):
        self.ensure_one()
        if self.user_id:
            return self.user_id
        service_group = self.env.ref("mfg_integration_base.group_mfg_integration_service")
        portal_group = self.env.ref("base.group_portal")
        user = (
            self.env["res.users"]
            .sudo()
            .with_context(no_reset_password=True, mail_create_nosubscribe=True)
            .create(
                {
                    "name": _("Integration: %(name)s", name=self.name),
                    "login": f"mfg-integration-{self.code}",
                    "groups_id": [(6, 0, [portal_group.id, service_group.id])],
                }
            )
        )
        self.sudo().user_id = user
        return user

    def _generate_api_key(self, name=None):
        """A new API key for the technical user (the clear key is returned, stored hashed)."""
        self.ensure_one()
        user = self._ensure_technical_user()
        key = (
            self.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate(API_KEY_SCOPE, name or f"{self.code} integration", None)
        )
        self.message_post(
            body=_(
                "A new API key was generated for the technical user %(login)s.", login=user.login
            )
        )
        return key

    def _delivery_settings(self):
        """The adapter's view of this system's delivery settings."""
        self.ensure_one()
        system = self.sudo()
        verify = bool(system.outbound_verify_tls)
        if verify and system.outbound_ca_bundle:
            verify = system.outbound_ca_bundle
        return delivery_adapters.Settings(
            system_code=system.code,
            url=system.outbound_url or "",
            secret=system.signing_secret or "",
            connect_timeout=system.outbound_connect_timeout,
            read_timeout=system.outbound_read_timeout,
            verify=verify,
            parallel=system.outbound_parallel,
        )

    def _close_circuit(self, note):
        self.ensure_one()
        exception = self.circuit_exception_id
        self.write(
            {
                "circuit_state": "closed",
                "circuit_opened_at": False,
                "consecutive_failures": 0,
                "circuit_exception_id": False,
                "outbound_resume_at": False,
            }
        )
        self.message_post(body=note)
        if exception and exception.state in ("open", "in_progress"):
            exception.message_post(body=note)
            exception.write(
                {
                    "state": "resolved",
                    "resolution": note,
                    "resolved_on": fields.Datetime.now(),
                }
            )

    def _open_circuit(self, opened_at, failures, details):
        """Open the breaker and raise one exception for the system (reused while open)."""
        self.ensure_one()
        values = {
            "circuit_state": "open",
            "circuit_opened_at": opened_at,
            "consecutive_failures": failures,
        }
        exception = self.circuit_exception_id
        if not exception or exception.state not in ("open", "in_progress"):
            exception = (
                self.env["mfg.integration.exception"]
                .sudo()
                .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
                .create(
                    {
                        "name": _(
                            "Delivery to %(system)s is paused: %(n)s failures in a row",
                            system=self.name,
                            n=failures,
                        ),
                        "system_id": self.id,
                        "category": "technical",
                        "reason_code": "circuit_open",
                        "suggested_action": _(
                            "Check that %(system)s is up and reachable at its endpoint. Odoo "
                            "probes it every %(s)s s and resumes delivery on its own; Retry "
                            "probes at once.",
                            system=self.name,
                            s=self.circuit_cooldown_seconds,
                        ),
                        "details": details,
                        "fingerprint": f"circuit_open:{self.code}",
                        "severity": "high",
                    }
                )
            )
            values["circuit_exception_id"] = exception.id
            self.message_post(
                body=_(
                    "Circuit breaker opened after %(n)s consecutive delivery failures: "
                    "delivery is paused. Last error: %(error)s",
                    n=failures,
                    error=details,
                )
            )
        self.write(values)
