import json
import logging
from pathlib import Path

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.modules.module import get_module_path

from ..services import schema_validation
from ..services.envelope import TYPE_PATTERN, dataschema_uri, parse_version

_logger = logging.getLogger(__name__)

ISA95_OBJECTS = [
    ("operations_schedule", "OperationsSchedule"),
    ("operations_performance", "OperationsPerformance"),
    ("material_actual", "MaterialActual"),
    ("operations_event", "OperationsEvent"),
    ("operations_test", "OperationsTest"),
    ("material_lot", "MaterialLot"),
    ("work_alert", "WorkAlert"),
    ("equipment", "Equipment"),
    ("material_definition", "MaterialDefinition"),
    ("none", "None (technical)"),
]

# Fields that define what a contract version means: frozen once it leaves draft.
FROZEN_FIELDS = {"code", "version", "direction", "schema"}


class MfgIntegrationContract(models.Model):
    _name = "mfg.integration.contract"
    _description = "Integration Contract Version"
    _inherit = ["mail.thread", "mail.activity.mixin", "mfg.integration.shadow.mixin"]
    _order = "code, version_major desc, version_minor desc"
    _rec_names_search = ["name", "code"]

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(
        required=True,
        tracking=True,
        help="The CloudEvents 'type', domain.object.verb, e.g. mes.production.completed.",
    )
    version = fields.Char(required=True, tracking=True, help="MAJOR.MINOR, e.g. 1.0")
    version_major = fields.Integer(compute="_compute_version_parts", store=True)
    version_minor = fields.Integer(compute="_compute_version_parts", store=True)
    dataschema = fields.Char(compute="_compute_dataschema", string="Data Schema URI")
    direction = fields.Selection(
        [("inbound", "Inbound (into Odoo)"), ("outbound", "Outbound (from Odoo)")],
        required=True,
        default="inbound",
        tracking=True,
    )
    description = fields.Text()
    isa95_object = fields.Selection(ISA95_OBJECTS, string="ISA-95 Object", default="none")
    schema = fields.Text(
        string="JSON Schema",
        required=True,
        default='{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}',
        help="JSON Schema Draft 2020-12 for the event's data.",
    )
    example = fields.Text(help="An example 'data' object, valid against the schema.")
    system_of_record = fields.Selection(
        [("odoo", "Odoo"), ("external", "External system")],
        default="odoo",
        help="Which side owns the truth when Odoo and the external system disagree.",
    )
    processing_mode = fields.Selection(
        [
            ("realtime", "Realtime (queued job)"),
            ("batch", "Batch (scheduled)"),
            ("record", "Record only (no handler)"),
        ],
        default="realtime",
        required=True,
        tracking=True,
    )
    sla_latency_seconds = fields.Integer(
        string="SLA Latency (s)",
        default=300,
        help="Events should be processed within this time after they occurred (0: no SLA, "
        "nothing is counted late).",
    )
    max_attempts = fields.Integer(
        default=5, help="Technical attempts before the event is declared dead."
    )
    retry_base_seconds = fields.Integer(default=10)
    retry_max_seconds = fields.Integer(default=1800)
    prerequisite_wait_minutes = fields.Integer(
        default=10,
        help="How long an event whose prerequisite is missing waits before it becomes an "
        "exception.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("approved", "Approved"),
            ("active", "Active"),
            ("deprecated", "Deprecated"),
            ("retired", "Retired"),
        ],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
    )
    author_id = fields.Many2one(
        "res.users", default=lambda self: self.env.user, readonly=True, copy=False
    )
    approved_by_id = fields.Many2one("res.users", readonly=True, copy=False, tracking=True)
    approved_on = fields.Datetime(readonly=True, copy=False)
    sunset_date = fields.Date(
        tracking=True, help="After this date a deprecated version is refused by the API."
    )
    module = fields.Char(
        readonly=True, help="The addon that shipped this contract (empty: created by an admin)."
    )
    company_id = fields.Many2one(
        "res.company",
        index=True,
        tracking=True,
        help="A contract of one company only (a plant's own interface). Empty: shared by all "
        "companies, as the contracts the addons ship.",
    )
    handler_module = fields.Char(compute="_compute_handler_module", string="Handled By")
    event_count = fields.Integer(compute="_compute_event_count")
    file_column_ids = fields.One2many(
        "mfg.integration.file.column",
        "contract_id",
        string="File Columns",
        help="The columns of this contract's CSV files for systems that exchange files "
        "(after event_id). Empty: the data's top-level fields, by name.",
    )
    shadow_effect_ids = fields.One2many(
        "mfg.integration.contract.effect",
        "contract_id",
        string="Effect Models",
        help="Models whose records the handler creates or changes: recorded in shadow mode.",
    )
    batch_delivery = fields.Boolean(
        tracking=True,
        help="Outbound: several events may travel in one request (a CloudEvents batch, "
        "application/cloudevents-batch+json). Only for receivers that accept batches.",
    )
    other_version_ids = fields.Many2many(
        "mfg.integration.contract",
        compute="_compute_other_version_ids",
        string="Other Versions",
    )
    received_total = fields.Integer(
        string="Events Received",
        compute="_compute_received_total",
        help="Events of this version accepted by the API (all systems, since the start).",
    )
    usage_ids = fields.Many2many(
        "mfg.integration.contract.usage",
        compute="_compute_usage_ids",
        string="Senders",
    )

    _sql_constraints = [
        (
            "code_version_unique",
            "unique(code, version)",
            "This contract version already exists.",
        ),
    ]

    @api.depends("version")
    def _compute_version_parts(self):
        for contract in self:
            try:
                contract.version_major, contract.version_minor = parse_version(contract.version)
            except ValueError:
                contract.version_major = contract.version_minor = 0

    @api.depends("code", "version")
    def _compute_dataschema(self):
        for contract in self:
            contract.dataschema = dataschema_uri(contract.code or "", contract.version or "")

    def _compute_handler_module(self):
        registry = self.env["mfg.integration.event"]._handler_registry()
        installed = self.env["mfg.integration.event"]._installed_modules()
        for contract in self:
            handler = None
            if contract.direction == "inbound":
                try:
                    handler = registry.get(contract.code, contract.version_major, installed)
                except LookupError:
                    handler = None
            contract.handler_module = handler.module if handler else False

    def _compute_event_count(self):
        groups = self.env["mfg.integration.event"]._read_group(
            [("contract_id", "in", self.ids)], ["contract_id"], ["__count"]
        )
        counts = {contract.id: count for contract, count in groups}
        for contract in self:
            contract.event_count = counts.get(contract.id, 0)

    @api.depends("name", "version")
    def _compute_display_name(self):
        for contract in self:
            contract.display_name = f"{contract.name} {contract.version}"

    def _compute_other_version_ids(self):
        siblings = self.with_context(active_test=False).search(
            [("code", "in", list(set(self.mapped("code"))))]
        )
        for contract in self:
            contract.other_version_ids = siblings.filtered(
                lambda c, contract=contract: c.code == contract.code and c.id != contract.id
            )

    def _compute_received_total(self):
        groups = self.env["mfg.integration.traffic"]._read_group(
            [("contract_id", "in", self.ids)], ["contract_id"], ["received:sum"]
        )
        totals = {contract.id: total for contract, total in groups}
        for contract in self:
            contract.received_total = totals.get(contract.id, 0)

    def _compute_usage_ids(self):
        Usage = self.env["mfg.integration.contract.usage"]
        usages = Usage.search([("contract_code", "in", list(set(self.mapped("code"))))])
        for contract in self:
            contract.usage_ids = usages.filtered(
                lambda u, contract=contract: u.contract_code == contract.code
            )

    @api.constrains("code", "version")
    def _check_code_version(self):
        for contract in self:
            if not TYPE_PATTERN.match(contract.code or ""):
                raise ValidationError(
                    _(
                        "Contract code '%(code)s' must be domain.object.verb in lower case, "
                        "e.g. mes.production.completed.",
                        code=contract.code,
                    )
                )
            try:
                parse_version(contract.version)
            except ValueError:
                raise ValidationError(
                    _("Version '%(v)s' must be MAJOR.MINOR, e.g. 1.0.", v=contract.version)
                ) from None

    @api.constrains("schema", "example")
    def _check_schema(self):
        for contract in self:
            try:
                schema_validation.parse_schema(contract.schema)
            except schema_validation.SchemaDefinitionError as error:
                raise ValidationError(
                    _("Contract %(name)s: %(error)s", name=contract.display_name, error=error)
                ) from None
            if contract.example:
                try:
                    example = json.loads(contract.example)
                except ValueError as error:
                    raise ValidationError(
                        _("The example is not valid JSON: %(error)s", error=error)
                    ) from None
                errors = schema_validation.validation_errors(contract._validator(), example)
                if errors:
                    pointer, sentence = errors[0]
                    raise ValidationError(
                        _(
                            "The example does not match the schema at %(pointer)s: %(error)s",
                            pointer=pointer,
                            error=sentence,
                        )
                    )

    @api.constrains("max_attempts", "retry_base_seconds", "retry_max_seconds")
    def _check_retry_policy(self):
        for contract in self:
            if contract.max_attempts < 1 or contract.retry_base_seconds < 1:
                raise ValidationError(_("Attempts and the retry base must be at least 1."))
            if contract.retry_max_seconds < contract.retry_base_seconds:
                raise ValidationError(_("The longest retry delay is shorter than the first one."))

    def write(self, vals):
        frozen = FROZEN_FIELDS.intersection(vals)
        if frozen and not self.env.context.get("mfg_contract_loading"):
            for contract in self:
                changed = [name for name in frozen if contract[name] != vals[name] and contract.id]
                if changed and contract.state != "draft":
                    raise UserError(
                        _(
                            "Contract %(name)s is %(state)s: its %(fields)s can no longer "
                            "change. Create a new version instead.",
                            name=contract.display_name,
                            state=contract.state,
                            fields=", ".join(sorted(changed)),
                        )
                    )
        result = super().write(vals)
        if "schema" in vals:
            for contract in self:
                schema_validation.forget((self.env.cr.dbname, contract.id))
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_not_draft(self):
        if any(contract.state != "draft" for contract in self):
            raise UserError(_("Only draft contracts can be deleted; retire the others."))

    def unlink(self):
        for contract in self:
            schema_validation.forget((self.env.cr.dbname, contract.id))
        return super().unlink()

    def action_approve(self):
        self._check_manager()
        for contract in self:
            if contract.state != "draft":
                raise UserError(_("Only draft contracts can be approved."))
            contract._check_approver(
                contract.author_id, _("%(name)s was written by you", name=contract.display_name)
            )
            contract.write(
                {
                    "state": "approved",
                    "approved_by_id": self.env.user.id,
                    "approved_on": fields.Datetime.now(),
                }
            )

    def action_activate(self):
        self._check_manager()
        for contract in self:
            if contract.state not in ("approved", "deprecated"):
                raise UserError(
                    _(
                        "%(name)s must be approved before it is activated.",
                        name=contract.display_name,
                    )
                )
            contract._check_handled()
            contract.write({"state": "active", "sunset_date": False})

    def action_deprecate(self):
        self._check_manager()
        for contract in self:
            if contract.state != "active":
                raise UserError(_("Only active contracts can be deprecated."))
            contract.state = "deprecated"

    def action_retire(self):
        self._check_manager()
        for contract in self:
            if contract.state not in ("active", "deprecated", "approved"):
                raise UserError(_("Only approved, active or deprecated contracts can be retired."))
            contract.state = "retired"

    def action_reset_to_draft(self):
        self._check_manager()
        for contract in self:
            if contract.state != "approved":
                raise UserError(_("Only an approved, not yet active contract goes back to draft."))
            contract.write({"state": "draft", "approved_by_id": False, "approved_on": False})

    def action_view_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event"
        )
        action["domain"] = [("contract_id", "=", self.id)]
        return action

    def action_request_approval(self):
        """Ask the other Integration Managers to review this draft (the author cannot
        approve it)."""
        managers = self.env.ref("mfg_integration_base.group_mfg_integration_manager").users
        for contract in self:
            if contract.state != "draft":
                raise UserError(_("Only a draft contract is submitted for approval."))
            reviewers = managers.filtered(
                lambda user, contract=contract: user != contract.author_id and not user.share
                and user.active
            )  # fmt: skip
            if not reviewers:
                raise UserError(
                    _("No other Integration Manager exists to approve %(name)s.",
                      name=contract.display_name)
                )  # fmt: skip
            for reviewer in reviewers:
                contract.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=_("Approve contract %(name)s", name=contract.display_name),
                    user_id=reviewer.id,
                )
            contract.message_post(
                body=_("%(user)s submitted this version for approval.", user=self.env.user.name)
            )
        return True

    def action_open_deprecate_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Deprecate %(name)s", name=self.display_name),
            "res_model": "mfg.integration.deprecate.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_contract_id": self.id},
        }

    def _validator(self):
        """The compiled, cached validator of this version's schema."""
        self.ensure_one()
        key = (self.env.cr.dbname, self.id)
        return schema_validation.compiled_validator(key, self.schema)

    def _check_manager(self):
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise UserError(_("Only an Integration Manager can change a contract's lifecycle."))

    def _check_handled(self):
        """An inbound contract is activated only when an installed addon handles its type:
        otherwise a sender would get 202 for events that can only end as exceptions."""
        self.ensure_one()
        if self.direction != "inbound" or self.processing_mode == "record":
            return
        if not self.handler_module:
            raise UserError(
                _(
                    "%(name)s cannot be activated: no installed addon handles %(code)s "
                    "version %(major)s.x. Install the addon that handles it (or wait until "
                    "its flow is written), then activate it.",
                    name=self.display_name,
                    code=self.code,
                    major=self.version_major,
                )
            )

    def _accepts_events(self, today=None):
        """Whether the API accepts events of this version today."""
        self.ensure_one()
        today = today or fields.Date.context_today(self)
        if self.state == "active":
            return True
        return self.state == "deprecated" and (not self.sunset_date or self.sunset_date >= today)

    @api.model
    def _load_contract_files(self, module):
        """Create or refresh the contracts shipped as ``contracts/<code>/<version>.json``.

        Each gets the XML id ``<module>.contract_<code>_<version>`` (dots as '_'), so
        data files of other addons can refer to it.

        A shipped contract is created active (the vendor approved it), or in the file's
        ``state`` (draft for a contract shipped before its handler exists). On upgrade, its
        schema is refreshed only while no event used it and no admin changed its
        lifecycle: published versions are immutable, new versions get new files.
        """
        root = Path(get_module_path(module)) / "contracts"
        if not root.is_dir():
            return self.browse()
        loaded = self.browse()
        for path in sorted(root.glob("*/*.json")):
            definition = json.loads(path.read_text())
            code, version = path.parent.name, path.stem
            if (
                definition.get("code", code) != code
                or definition.get("version", version) != version
            ):
                raise ValidationError(
                    _("%(path)s: code and version must match its folder and file name.", path=path)
                )
            values = {
                "name": definition["name"],
                "code": code,
                "version": version,
                "direction": definition.get("direction", "inbound"),
                "description": definition.get("description", ""),
                "isa95_object": definition.get("isa95_object", "none"),
                "schema": json.dumps(definition["schema"], indent=2),
                "example": json.dumps(definition["example"], indent=2)
                if "example" in definition
                else False,
                "system_of_record": definition.get("system_of_record", "odoo"),
                "processing_mode": definition.get("processing_mode", "realtime"),
                "sla_latency_seconds": definition.get("sla_latency_seconds", 300),
                "max_attempts": definition.get("max_attempts", 5),
                "retry_base_seconds": definition.get("retry_base_seconds", 10),
                "retry_max_seconds": definition.get("retry_max_seconds", 1800),
                "prerequisite_wait_minutes": definition.get("prerequisite_wait_minutes", 10),
                "batch_delivery": definition.get("batch_delivery", False),
                "module": module,
            }
            contract = self.with_context(active_test=False).search(
                [("code", "=", code), ("version", "=", version)]
            )
            loader = self.sudo().with_context(mfg_contract_loading=True, tracking_disable=True)
            if not contract:
                contract = loader.create(dict(values, state=definition.get("state", "active")))
            elif contract.module == module and not contract.event_count:
                loader.browse(contract.id).write(values)
            xmlid = "contract_{}_{}".format(code.replace(".", "_"), version.replace(".", "_"))
            self.env["ir.model.data"]._update_xmlids(
                [{"xml_id": f"{module}.{xmlid}", "record": contract, "noupdate": True}]
            )
            loaded |= contract
        return loaded

    def _check_shadow_switchable(self):
        if self.direction != "inbound" or self.state == "retired":
            raise UserError(_("Only inbound contracts in use can run in shadow mode."))

    def _shadow_fields(self):
        """{model: [business key, quantity, ...]} that a shadow run of this contract records."""
        self.ensure_one()
        watched = {}
        for effect in self.sudo().shadow_effect_ids:
            watched.setdefault(effect.model, []).extend(
                [effect.key_field_id.name, effect.quantity_field_id.name]
            )
        return watched

    @api.model
    def _active_outbound(self, code):
        """The active outbound contract ``code`` (sudo), or an empty recordset: for a flow
        that tells other systems only while an admin keeps the contract active, and builds
        no message otherwise."""
        return self.sudo().search(
            [("code", "=", code), ("direction", "=", "outbound"), ("state", "=", "active")],
            limit=1,
        )

    @api.model
    def _outbound_version(self, code, version=None):
        """The outbound contract version events of ``code`` are emitted with: ``version``
        if given, else the newest active one (a deprecated one only when none is active)."""
        domain = [("code", "=", code), ("direction", "=", "outbound")]
        if version:
            domain.append(("version", "=", version))
        candidates = self.sudo().search(domain).filtered(lambda c: c._accepts_events())
        if not candidates:
            # the expression outside _(): babel's extraction of this file stops at it
            version_text = f" {version}" if version else ""
            raise UserError(
                _(
                    "No active outbound contract %(code)s%(version)s: ask the integration "
                    "admin to activate it.",
                    code=code,
                    version=version_text,
                )
            )
        # an active version before a deprecated one, then the newest
        return max(
            candidates, key=lambda c: (c.state == "active", c.version_major, c.version_minor)
        )
