import logging
import re
from datetime import timedelta

import psycopg2.errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from odoo.addons.base.models.res_users import INDEX_SIZE, KEY_CRYPT_CONTEXT

from ..inbox.waiting import waiting_behind_failures_per_system
from ..outbox import dispatcher
from ..services import adapters as delivery_adapters
from ..services import api_key_policy, maintenance_windows, webhook_signature
from ..services.humanize import age
from .mfg_integration_metrics import OVERVIEW_FIGURES, OVERVIEW_LATENCIES

_logger = logging.getLogger(__name__)

API_KEY_SCOPE = "mfg_integration"
SYSTEM_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")


def _normalized_url(url):
    return (url or "").strip().lower().rstrip("/")


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
    environment = fields.Selection(
        [("production", "Production"), ("test", "Test")],
        required=True,
        default="production",
        tracking=True,
        help="Whether this is a production or a test system. Odoo talks only to systems of "
        "its own database's environment (Settings → Manufacturing Integration): a test "
        "system's key is refused by a production database and nothing is delivered to it, and "
        "the other way round; a production and a test system never share an endpoint or a "
        "signing secret.",
    )
    environment_mismatch = fields.Boolean(
        compute="_compute_environment_mismatch",
        help="This system's environment is not this database's: Odoo neither accepts its key "
        "nor delivers to it.",
    )
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
    # API keys: the hashes live in res.users.apikeys; which one is current, and the expiry,
    # overlap and last use of the current and the replaced key live here.
    current_api_key_id = fields.Integer(readonly=True, copy=False)
    api_key_validity_days = fields.Integer(
        string="New Keys Valid For (days)",
        default=365,
        tracking=True,
        help="A key generated for this system expires after this many days. 0: never.",
    )
    api_key_overlap_hours = fields.Integer(
        string="Old Key Overlap (hours)",
        default=24,
        tracking=True,
        help="After a new key is generated, the old one keeps working this long, so the "
        "system can be switched over without a gap. 0: the old key stops at once.",
    )
    api_key_expires_at = fields.Datetime(
        string="Key expires on",
        copy=False,
        tracking=True,
        help="From then on the system's key is refused (401) until a new one is generated.",
    )
    api_key_expiry_reported = fields.Boolean(readonly=True, copy=False)
    old_api_key_valid_until = fields.Datetime(
        string="Old key valid until",
        copy=False,
        tracking=True,
        help="The key replaced by the last 'Generate API Key' works until then, then stops.",
    )
    api_key_last_used_at = fields.Datetime(string="Key last used", readonly=True, copy=False)
    old_api_key_last_used_at = fields.Datetime(
        string="Old key last used", readonly=True, copy=False
    )
    sor_kind_ids = fields.Many2many(
        "mfg.integration.record.kind",
        "mfg_integration_system_sor_kind_rel",
        "system_id",
        "kind_id",
        string="System of Record For",
        tracking=True,
        help="The business objects this system owns: its changes of them are applied, and a "
        "change of them from any other system is refused (a 'sor_conflict' exception). "
        "Objects no system owns belong to Odoo.",
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
        [
            ("ok", "Healthy"),
            ("maintenance", "In maintenance"),
            ("warning", "Needs attention"),
            ("danger", "Failing"),
        ],
        compute="_compute_overview",
    )
    maintenance_window_ids = fields.One2many(
        "mfg.integration.maintenance.window", "system_id", string="Maintenance Windows"
    )
    maintenance_until = fields.Datetime(
        string="In Maintenance Until",
        compute="_compute_maintenance",
        help="The end of the maintenance window in force: until then Odoo holds what the "
        "system sent and what it should receive, without attempts or exceptions.",
    )
    maintenance_reason = fields.Char(compute="_compute_maintenance")

    _sql_constraints = [
        ("code_unique", "unique(code)", "Another system already uses this code."),
        (
            "caps_positive",
            "CHECK(max_payload_bytes > 0 AND max_batch_events > 0 AND rate_limit_per_minute >= 0)",
            "Payload cap and batch cap must be positive; the rate limit cannot be negative.",
        ),
        ("retention_min", "CHECK(retention_days >= 3)", "Retention is at least 3 days (72 h)."),
        (
            "api_key_settings_positive",
            "CHECK(api_key_validity_days >= 0 AND api_key_overlap_hours >= 0)",
            "Key validity and old key overlap cannot be negative.",
        ),
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
            elif system.maintenance_until:
                system.health = "maintenance"
            elif open_exceptions or system.sla_breaches_24h or system.circuit_state != "closed":
                system.health = "warning"
            else:
                system.health = "ok"

    @api.model
    def _database_environment(self):
        """'production' or 'test': what this Odoo database is (a neutralized copy is 'test')."""
        value = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("mfg_integration_base.environment", "production")
        )
        return value if value in ("production", "test") else "production"

    @api.depends("environment")
    def _compute_environment_mismatch(self):
        database = self._database_environment()
        for system in self:
            system.environment_mismatch = system.environment != database

    def _environment_refusal(self):
        """A sentence saying why Odoo does not talk to this system here, or None."""
        self.ensure_one()
        database = self._database_environment()
        if self.environment == database:
            return None
        labels = dict(self._fields["environment"]._description_selection(self.env))
        return _(
            "%(system)s is a %(system_env)s system and this Odoo database is a %(db_env)s one: "
            "Odoo neither accepts its key nor delivers to it here.",
            system=self.name,
            system_env=labels[self.environment].lower(),
            db_env=labels[database].lower(),
        )

    @api.constrains("environment", "outbound_url", "signing_secret")
    def _check_environment_separation(self):
        systems = self.sudo().search([("outbound_url", "!=", False)]) | self.sudo().search(
            [("signing_secret", "!=", False)]
        )
        for system in self.sudo():
            others = systems.filtered(lambda o, s=system: o.environment != s.environment)
            url = _normalized_url(system.outbound_url)
            for other in others:
                if url and _normalized_url(other.outbound_url) == url:
                    raise ValidationError(
                        _(
                            "%(other)s (%(other_env)s) already delivers to %(url)s: a "
                            "production and a test system cannot share an endpoint.",
                            other=other.name,
                            other_env=other.environment,
                            url=system.outbound_url,
                        )
                    )
                if system.signing_secret and other.signing_secret == system.signing_secret:
                    raise ValidationError(
                        _(
                            "%(other)s (%(other_env)s) uses the same signing secret: a "
                            "production and a test system cannot share one. Generate a new "
                            "secret for %(system)s.",
                            other=other.name,
                            other_env=other.environment,
                            system=system.name,
                        )
                    )

    def _compute_maintenance(self):
        states = maintenance_windows.window_states(self.env, self.ids, fields.Datetime.now())
        for system in self:
            state = states.get(system.id)
            system.maintenance_until = (
                max(end for end in (state["inbound"], state["outbound"]) if end) if state else False
            )
            system.maintenance_reason = state["reason"] if state else ""

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

    @api.constrains("sor_kind_ids")
    def _check_sor_kind_single_owner(self):
        self.mapped("sor_kind_ids")._check_one_owner()

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
            system.sudo().with_context(mail_notrack=True).write(
                {
                    "current_api_key_id": 0,
                    "api_key_expires_at": False,
                    "old_api_key_valid_until": False,
                    "old_api_key_last_used_at": False,
                }
            )
            system.message_post(
                body=_(
                    "All API keys of the technical user were revoked by %(user)s.",
                    user=self.env.user.name,
                )
            )

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

    def write(self, vals):
        if "api_key_expires_at" in vals:
            # a new expiry is reported in the chatter again when it passes
            vals = dict(vals, api_key_expiry_reported=False)
        result = super().write(vals)
        if "environment" in vals:
            # a system moved into this database's environment gets what waited for it
            dispatcher.schedule_dispatch(
                self.env, self.sudo().filtered(lambda s: s.outbound_adapter).ids
            )
        return result

    def _api_key_ids(self):
        """Ids of the technical user's keys of our scope (expired or not), oldest first."""
        self.ensure_one()
        self.env.cr.execute(
            "SELECT id FROM res_users_apikeys WHERE user_id = %s AND scope = %s ORDER BY id",
            [self.user_id.id, API_KEY_SCOPE],
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _remove_api_keys(self, key_ids):
        self.env["res.users.apikeys"].sudo().browse(key_ids)._remove()

    def _generate_api_key(self, name=None):
        """A new API key for the technical user (the clear key is returned, stored hashed).

        The key it replaces keeps working for the system's overlap, then stops; a key already
        in its overlap (replaced by an earlier rotation) stops at once.
        """
        self.ensure_one()
        user = self._ensure_technical_user()
        system = self.sudo().with_context(mail_notrack=True)
        now = fields.Datetime.now()
        previous = self._api_key_ids()
        replaced = [key_id for key_id in previous if key_id == self.current_api_key_id]
        if not self.current_api_key_id:
            replaced = previous  # keys from before keys were tracked: all are replaced
        self._remove_api_keys([key_id for key_id in previous if key_id not in replaced])
        key = (
            self.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate(API_KEY_SCOPE, name or f"{self.code} integration", None)
        )
        new_id = max(set(self._api_key_ids()) - set(previous))
        values = {
            "current_api_key_id": new_id,
            "api_key_expires_at": (
                now + timedelta(days=self.api_key_validity_days)
                if self.api_key_validity_days
                else False
            ),
            "api_key_last_used_at": False,
            "old_api_key_valid_until": False,
            "old_api_key_last_used_at": False,
        }
        if replaced:
            old_until = api_key_policy.old_key_end(
                now, timedelta(hours=self.api_key_overlap_hours), self.api_key_expires_at
            )
            if old_until > now:
                values["old_api_key_valid_until"] = old_until
                values["old_api_key_last_used_at"] = self.api_key_last_used_at
            else:
                self._remove_api_keys(replaced)
        system.write(values)
        expiry = (
            _("it expires on %(date)s UTC", date=system.api_key_expires_at)
            if system.api_key_expires_at
            else _("it does not expire")
        )
        if not replaced:
            body = _(
                "A new API key was generated by %(user)s for the technical user %(login)s; "
                "%(expiry)s.",
                user=self.env.user.name,
                login=user.login,
                expiry=expiry,
            )
        elif system.old_api_key_valid_until:
            body = _(
                "The API key was rotated by %(user)s: the new key works at once and %(expiry)s; "
                "the old key keeps working until %(until)s UTC.",
                user=self.env.user.name,
                expiry=expiry,
                until=system.old_api_key_valid_until,
            )
        else:
            body = _(
                "The API key was rotated by %(user)s: the new key works at once and %(expiry)s; "
                "the old key was revoked at once.",
                user=self.env.user.name,
                expiry=expiry,
            )
        self.message_post(body=body)
        return key

    @api.model
    def _match_api_key(self, key):
        """(key id, user id) of the stored key of our scope that ``key`` is, expired or not;
        (None, None) when there is none. Expiry is ours to judge (api_key_policy)."""
        if not key:
            return None, None
        self.env.cr.execute(
            """
            SELECT k.id, k.user_id, k.key
              FROM res_users_apikeys k
              JOIN res_users u ON u.id = k.user_id
             WHERE u.active AND k.index = %s AND k.scope = %s
               AND (k.expiration_date IS NULL OR k.expiration_date >= %s)
            """,
            [key[:INDEX_SIZE], API_KEY_SCOPE, fields.Datetime.now()],
        )
        for key_id, user_id, hashed in self.env.cr.fetchall():
            if KEY_CRYPT_CONTEXT.verify(key, hashed):
                return key_id, user_id
        return None, None

    def _api_key_refusal(self, key_id):
        """None when the key ``key_id`` of this system may be used now, else why not."""
        self.ensure_one()
        return api_key_policy.refusal(
            key_id,
            self.current_api_key_id,
            self.api_key_expires_at,
            self.old_api_key_valid_until,
            fields.Datetime.now(),
        )

    def _note_api_key_use(self, key_id):
        """Record that the key was used, at most once per LAST_USED_RESOLUTION and key.

        One guarded UPDATE: within the resolution it matches no row and writes nothing; a row
        another request is updating is skipped rather than waited for, and a concurrent update
        only loses this note, never the request. A request on a read-only cursor (a GET
        served by a read replica) leaves no note.
        """
        self.ensure_one()
        is_old = bool(self.current_api_key_id) and key_id != self.current_api_key_id
        column = "old_api_key_last_used_at" if is_old else "api_key_last_used_at"
        now = fields.Datetime.now()
        query = SQL(
            """
            UPDATE mfg_integration_system SET %(column)s = %(now)s
             WHERE id = (SELECT id FROM mfg_integration_system
                          WHERE id = %(id)s AND (%(column)s IS NULL OR %(column)s <= %(due)s)
                            FOR NO KEY UPDATE SKIP LOCKED)
            """,
            column=SQL.identifier(column),
            now=now,
            id=self.id,
            due=now - api_key_policy.LAST_USED_RESOLUTION,
        )
        if self.env.cr.readonly:
            return False
        updated = _execute_guarded(self.env.cr, query)
        if updated:
            self.invalidate_recordset([column])
        return updated

    @api.model
    def _cron_expire_api_keys(self):
        """Remove replaced keys whose overlap ended, and say in the chatter when keys stop."""
        now = fields.Datetime.now()
        for system in self.search([("old_api_key_valid_until", "<=", now)]):
            system._remove_api_keys(
                [key_id for key_id in system._api_key_ids() if key_id != system.current_api_key_id]
            )
            system.message_post(
                body=_(
                    "The old API key stopped working on %(until)s UTC (end of the overlap) and "
                    "was removed.",
                    until=system.old_api_key_valid_until,
                )
            )
            system.with_context(mail_notrack=True).write(
                {"old_api_key_valid_until": False, "old_api_key_last_used_at": False}
            )
        expired = self.search(
            [
                ("current_api_key_id", "!=", 0),
                ("api_key_expires_at", "<=", now),
                ("api_key_expiry_reported", "=", False),
            ]
        )
        for system in expired:
            system.message_post(
                body=_(
                    "The API key expired on %(date)s UTC: the system's requests are refused "
                    "until a new key is generated.",
                    date=system.api_key_expires_at,
                )
            )
        expired.write({"api_key_expiry_reported": True})

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


def _execute_guarded(cr, query):
    """Run an UPDATE in a savepoint; True when it changed a row, False when it did not or a
    concurrent update got in the way."""
    try:
        with cr.savepoint(flush=False):
            cr.execute(query, log_exceptions=False)
            return bool(cr.rowcount)
    except psycopg2.errors.SerializationFailure:
        return False
