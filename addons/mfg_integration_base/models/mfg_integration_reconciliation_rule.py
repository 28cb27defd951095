import logging
import time
import traceback
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..services import reconciliation

_logger = logging.getLogger(__name__)

INTERVAL_UNITS = {"hours": "hours", "days": "days", "weeks": "weeks"}


class MfgIntegrationReconciliationRule(models.Model):
    _name = "mfg.integration.reconciliation.rule"
    _description = "Reconciliation Rule"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, name"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    # Built from the kind registry rather than selection_add: an addon adds a kind by
    # registering its compare function, one place that cannot drift from a selection list.
    kind = fields.Selection(
        selection="_selection_kind",
        required=True,
        tracking=True,
        help="What is compared; addons add kinds (SAP stock, MES work in progress, ...).",
    )
    system_id = fields.Many2one(
        "mfg.integration.system",
        string="External System",
        required=True,
        index=True,
        tracking=True,
        ondelete="restrict",
    )
    company_id = fields.Many2one(related="system_id.company_id", store=True, index=True)
    contract_ids = fields.Many2many(
        "mfg.integration.contract",
        "mfg_integration_reconciliation_rule_contract_rel",
        "rule_id",
        "contract_id",
        string="Contracts",
        tracking=True,
        help="Scope of the comparison; empty means every contract the kind considers.",
    )
    description = fields.Text()
    # shadow vs legacy: what to compare, and who the legacy interface is
    shadow_effect_id = fields.Many2one(
        "mfg.integration.contract.effect",
        string="Compared Effect",
        tracking=True,
        ondelete="restrict",
        help="Shadow vs legacy: the model, business key and quantity compared.",
    )
    legacy_user_id = fields.Many2one(
        "res.users",
        string="Legacy Interface User",
        tracking=True,
        help="Shadow vs legacy: only records this user created count as the legacy "
        "interface's work (empty: every record created in the window).",
    )
    window_days = fields.Integer(
        string="Window (days)",
        default=7,
        required=True,
        tracking=True,
        help="How far back each run compares.",
    )
    tolerance_absolute = fields.Float(
        digits=(16, 4),
        tracking=True,
        help="A difference up to this amount is a match.",
    )
    tolerance_percent = fields.Float(
        string="Tolerance (%)",
        digits=(16, 2),
        tracking=True,
        help="A difference up to this share of the external value is a match.",
    )
    interval_number = fields.Integer(string="Run Every", default=1, required=True, tracking=True)
    interval_type = fields.Selection(
        [("hours", "Hours"), ("days", "Days"), ("weeks", "Weeks")],
        string="Unit",
        default="days",
        required=True,
        tracking=True,
    )
    next_run_at = fields.Datetime(
        string="Next Run",
        default=fields.Datetime.now,
        help="The scheduled job runs the rule once this time has passed; then the next run "
        "keeps the same time of day (or hour).",
    )
    run_ids = fields.One2many("mfg.integration.reconciliation.run", "rule_id", string="Runs")
    last_run_id = fields.Many2one(
        "mfg.integration.reconciliation.run", readonly=True, string="Last Run"
    )
    last_match_rate = fields.Float(related="last_run_id.match_rate", string="Last Match Rate (%)")
    last_run_state = fields.Selection(related="last_run_id.state", string="Last Run Status")
    run_count = fields.Integer(compute="_compute_counts")
    open_exception_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        (
            "tolerances_positive",
            "CHECK(COALESCE(tolerance_absolute, 0) >= 0 AND COALESCE(tolerance_percent, 0) >= 0)",
            "Tolerances cannot be negative.",
        ),
        ("window_positive", "CHECK(window_days > 0)", "The window is at least one day."),
        ("interval_positive", "CHECK(interval_number > 0)", "Run at least every 1 unit."),
    ]

    def _compute_counts(self):
        runs = self.env["mfg.integration.reconciliation.run"]._read_group(
            [("rule_id", "in", self.ids)], ["rule_id"], ["__count"]
        )
        exceptions = self.env["mfg.integration.exception"]._read_group(
            [
                ("reconciliation_rule_id", "in", self.ids),
                ("state", "in", ("open", "in_progress")),
            ],
            ["reconciliation_rule_id"],
            ["__count"],
        )
        run_counts = {rule.id: count for rule, count in runs}
        exception_counts = {rule.id: count for rule, count in exceptions}
        for rule in self:
            rule.run_count = run_counts.get(rule.id, 0)
            rule.open_exception_count = exception_counts.get(rule.id, 0)

    @api.constrains("kind")
    def _check_kind(self):
        installed = self._kind_modules()
        for rule in self:
            if not reconciliation.registry.get(rule.kind, installed):
                raise ValidationError(_("No installed addon compares '%(kind)s'.", kind=rule.kind))

    def action_run_now(self):
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise UserError(_("Only an Integration Manager can run a reconciliation."))
        runs = self.env["mfg.integration.reconciliation.run"]
        for rule in self:
            runs |= rule.sudo()._run(trigger="manual", user=self.env.user)
        if len(runs) == 1:
            return runs._open_form()
        return True

    def action_view_runs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_reconciliation_run"
        )
        action["domain"] = [("rule_id", "=", self.id)]
        action["context"] = {"default_rule_id": self.id}
        return action

    def action_view_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_exception"
        )
        action["domain"] = [("reconciliation_rule_id", "=", self.id)]
        action["context"] = {"search_default_open": 1}
        return action

    @api.model
    def _selection_kind(self):
        return reconciliation.registry.selection(self._kind_modules())

    @api.model
    def _kind_modules(self):
        """Addons whose kinds are offered: the installed ones, and while the registry
        loads (demo and data records of an addon being installed), those being installed."""
        modules = self.env.registry._init_modules
        if self.env.registry.ready:
            return modules
        self.env.cr.execute(
            "SELECT name FROM ir_module_module"
            " WHERE state IN ('installed', 'to install', 'to upgrade')"
        )
        return set(modules) | {row[0] for row in self.env.cr.fetchall()}

    def _kind(self):
        self.ensure_one()
        entry = reconciliation.registry.get(self.kind, self._kind_modules())
        if entry is None:
            raise UserError(
                _(
                    "Rule %(rule)s compares '%(kind)s', which no installed addon provides.",
                    rule=self.display_name,
                    kind=self.kind,
                )
            )
        return entry

    def _exception_fingerprint(self, key):
        """One exception per rule and key, whatever the status: re-runs never duplicate."""
        self.ensure_one()
        return self.env["mfg.integration.exception"]._fingerprint(
            False, "reconciliation", {"rule": self.id, "key": key}
        )

    def _window(self, now):
        """[start, end) the run compares; kinds may narrow it (e.g. to finished days)."""
        return now - timedelta(days=self.window_days), now

    def _next_run_after(self, moment):
        """The first scheduled time after ``moment``, in steps of the interval from the
        current next run: a rule set for 06:00 stays at 06:00, missed runs are not replayed."""
        step = timedelta(**{INTERVAL_UNITS[self.interval_type]: self.interval_number})
        scheduled = self.next_run_at or moment
        if scheduled > moment:
            return scheduled
        return scheduled + step * ((moment - scheduled) // step + 1)

    @api.model
    def _cron_run_due(self, limit=20):
        """Run the active rules whose next run time has passed, each in its own savepoint:
        a rule that fails records a failed run and the others still run."""
        now = fields.Datetime.now()
        rules = self.search([("next_run_at", "<=", now)], order="next_run_at, id", limit=limit)
        for rule in rules:
            rule._run(trigger="schedule")
        return len(rules)

    def _run(self, trigger, user=None):
        """Compare, write the lines, open and heal exceptions; return the run."""
        self.ensure_one()
        Run = self.env["mfg.integration.reconciliation.run"]
        now = fields.Datetime.now()
        start, end = self._window(now)
        run = Run.create(
            {
                "rule_id": self.id,
                "started_at": now,
                "window_start": start,
                "window_end": end,
                "trigger": trigger,
                "triggered_by_id": (user or self.env.user).id,
                "state": "running",
            }
        )
        clock = time.monotonic()
        try:
            with self.env.cr.savepoint():
                rows = list(self._kind().compare(self, start, end))
                counts = run._store_lines(rows)
                run._sync_exceptions()
        except Exception as error:
            _logger.exception("Reconciliation rule %s (%s) failed", self.name, self.id)
            run.write(
                {
                    "state": "failed",
                    "finished_at": fields.Datetime.now(),
                    "duration_s": time.monotonic() - clock,
                    "error": f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}",
                }
            )
        else:
            run.write(
                dict(
                    counts,
                    state="done",
                    finished_at=fields.Datetime.now(),
                    duration_s=time.monotonic() - clock,
                )
            )
        values = {"last_run_id": run.id}
        if trigger == "schedule":  # "Run now" leaves the schedule alone
            values["next_run_at"] = self._next_run_after(now)
        self.write(values)
        return run
