from collections import Counter

from psycopg2.extras import execute_values

from odoo import _, api, fields, models

from ..services import reconciliation

STATUSES = [
    (reconciliation.MATCHED, "Matched"),
    (reconciliation.MISMATCH, "Mismatch"),
    (reconciliation.MISSING_IN_ODOO, "Missing in Odoo"),
    (reconciliation.MISSING_EXTERNAL, "Missing Externally"),
]
OPEN_STATES = ("open", "in_progress")


def _number(value):
    return f"{value:g}" if value is not None else "-"


class MfgIntegrationReconciliationRun(models.Model):
    _name = "mfg.integration.reconciliation.run"
    _description = "Reconciliation Run"
    _order = "started_at desc, id desc"

    rule_id = fields.Many2one(
        "mfg.integration.reconciliation.rule",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    kind = fields.Selection(related="rule_id.kind", store=True)
    system_id = fields.Many2one(related="rule_id.system_id", store=True, index=True)
    company_id = fields.Many2one(related="rule_id.company_id", store=True, index=True)
    started_at = fields.Datetime(required=True, readonly=True, index=True)
    finished_at = fields.Datetime(readonly=True)
    duration_s = fields.Float(string="Duration (s)", digits=(16, 3), readonly=True)
    window_start = fields.Datetime(readonly=True, help="Compared from (included).")
    window_end = fields.Datetime(readonly=True, help="Compared until (excluded).")
    state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("failed", "Failed")],
        required=True,
        default="running",
        readonly=True,
        index=True,
    )
    trigger = fields.Selection(
        [("manual", "Run now"), ("schedule", "Schedule")], required=True, readonly=True
    )
    triggered_by_id = fields.Many2one("res.users", string="Triggered By", readonly=True)
    line_count = fields.Integer(string="Compared", readonly=True)
    matched_count = fields.Integer(string="Matched", readonly=True)
    mismatch_count = fields.Integer(string="Mismatches", readonly=True)
    missing_in_odoo_count = fields.Integer(string="Missing in Odoo", readonly=True)
    missing_external_count = fields.Integer(string="Missing Externally", readonly=True)
    difference_count = fields.Integer(
        string="Differences", readonly=True, help="Mismatches and keys missing on either side."
    )
    match_rate = fields.Float(
        string="Match Rate (%)", digits=(16, 2), readonly=True, aggregator="avg"
    )
    exceptions_opened = fields.Integer(readonly=True)
    exceptions_healed = fields.Integer(string="Exceptions Resolved", readonly=True)
    error = fields.Text(readonly=True)
    line_ids = fields.One2many("mfg.integration.reconciliation.line", "run_id", string="Lines")

    @api.depends("rule_id", "started_at")
    def _compute_display_name(self):
        for run in self:
            run.display_name = f"{run.rule_id.name or ''} {run.started_at or ''}".strip()

    def action_view_lines(self):
        """The run's lines, differences first, grouped by status."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_reconciliation_line"
        )
        action["domain"] = [("run_id", "=", self.id)]
        action["context"] = {"search_default_differences": 1, "search_default_group_status": 1}
        return action

    def _open_form(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
        }

    def _store_lines(self, rows):
        """Classify ``rows`` with the rule's tolerances and insert them in bulk.

        Returns the run's counters.
        """
        self.ensure_one()
        rule = self.rule_id
        values = []
        seen = set()
        for row in rows:
            key = str(row.key)
            if key in seen:
                raise ValueError(f"The comparison returned key {key!r} twice")
            seen.add(key)
            tolerances = (
                (0.0, 0.0) if row.exact else (rule.tolerance_absolute, rule.tolerance_percent)
            )
            status, difference = reconciliation.classify(
                row.odoo_value, row.external_value, *tolerances
            )
            values.append(
                (key, row.label or key, row.odoo_value, row.external_value, difference, status)
            )
        if values:
            self.flush_recordset()
            execute_values(
                self.env.cr._obj,
                """
                INSERT INTO mfg_integration_reconciliation_line (
                    run_id, rule_id, key, label, odoo_value, external_value, difference,
                    status, create_uid, create_date, write_uid, write_date)
                VALUES %s
                """,
                [(self.id, rule.id, *row, self.env.uid, self.create_date, self.env.uid,
                  self.create_date) for row in values],
                page_size=1000,
            )  # fmt: skip
            self.env["mfg.integration.reconciliation.line"].invalidate_model()
        counts = Counter(row[5] for row in values)
        total = len(values)
        matched = counts[reconciliation.MATCHED]
        return {
            "line_count": total,
            "matched_count": matched,
            "mismatch_count": counts[reconciliation.MISMATCH],
            "missing_in_odoo_count": counts[reconciliation.MISSING_IN_ODOO],
            "missing_external_count": counts[reconciliation.MISSING_EXTERNAL],
            "difference_count": total - matched,
            "match_rate": 100.0 * matched / total if total else 100.0,
        }

    def _sync_exceptions(self):
        """Open one exception per key over tolerance (or update the open one: the fingerprint
        is the rule and the key, so re-runs never duplicate), and resolve the open ones of
        keys this run found matched. Links each line to its exception."""
        self.ensure_one()
        rule = self.rule_id
        Exception_ = self.env["mfg.integration.exception"].sudo()
        lines = self.line_ids
        fingerprints = {line.id: rule._exception_fingerprint(line.key) for line in lines}
        open_exceptions = Exception_.search(
            [
                ("reconciliation_rule_id", "=", rule.id),
                ("fingerprint", "in", list(set(fingerprints.values()))),
                ("state", "in", OPEN_STATES),
            ]
        )
        by_fingerprint = {exception.fingerprint: exception for exception in open_exceptions}
        differences = lines.filtered(lambda line: line.status != reconciliation.MATCHED)
        healed = lines - differences
        to_create = []
        for line in differences:
            values = self._exception_values(line)
            exception = by_fingerprint.get(fingerprints[line.id])
            if exception:
                exception.write({"name": values["name"]})
            else:
                to_create.append((line, values))
        created = Exception_.with_context(
            mail_create_nolog=True, mail_create_nosubscribe=True
        ).create([dict(values, fingerprint=fingerprints[line.id]) for line, values in to_create])
        for (line, _values), exception in zip(to_create, created, strict=True):
            by_fingerprint[fingerprints[line.id]] = exception
        resolved = Exception_
        for line in healed:
            exception = by_fingerprint.get(fingerprints[line.id])
            if not exception:
                continue
            note = _(
                "Healed: run %(run)s found %(label)s matched (Odoo %(odoo)s, %(system)s "
                "%(external)s).",
                run=self.display_name,
                label=line.label,
                odoo=_number(line.odoo_value),
                system=rule.system_id.name,
                external=_number(line.external_value),
            )
            exception.message_post(body=note)
            exception.resolution = note
            resolved |= exception
        resolved.write(
            {
                "state": "resolved",
                "resolved_by_id": self.env.uid,
                "resolved_on": fields.Datetime.now(),
            }
        )
        links = [
            (line.id, by_fingerprint[fingerprints[line.id]].id)
            for line in lines
            if fingerprints[line.id] in by_fingerprint
        ]
        if links:
            lines.flush_recordset()
            execute_values(
                self.env.cr._obj,
                """
                UPDATE mfg_integration_reconciliation_line l SET exception_id = v.exception_id
                  FROM (VALUES %s) AS v(id, exception_id) WHERE l.id = v.id
                """,
                links,
                page_size=1000,
            )
            lines.invalidate_recordset(["exception_id"])
        self.write({"exceptions_opened": len(created), "exceptions_healed": len(resolved)})

    def _exception_values(self, line):
        rule = self.rule_id
        system = rule.system_id.name
        numbers = {
            "rule": rule.name,
            "label": line.label,
            "system": system,
            "odoo": _number(line.odoo_value),
            "external": _number(line.external_value),
            "difference": _number(line.difference),
        }
        if line.status == reconciliation.MISSING_IN_ODOO:
            name = _("%(rule)s: %(label)s is missing in Odoo (%(system)s: %(external)s)", **numbers)
        elif line.status == reconciliation.MISSING_EXTERNAL:
            name = _("%(rule)s: %(label)s is missing in %(system)s (Odoo: %(odoo)s)", **numbers)
        else:
            name = _(
                "%(rule)s: %(label)s differs: Odoo %(odoo)s, %(system)s %(external)s "
                "(difference %(difference)s)",
                **numbers,
            )
        return {
            "name": name,
            "system_id": rule.system_id.id,
            "contract_id": rule.contract_ids.id if len(rule.contract_ids) == 1 else False,
            "subject": line.key,
            "category": "business",
            "reason_code": f"reconciliation_{line.status}",
            "suggested_action": _(
                "Find the cause (a lost or duplicated message, a change made by hand on one "
                "side), correct it, then run the rule again: a run that finds this key "
                "matched resolves this exception."
            ),
            "key_fields": {"rule": rule.id, "key": line.key},
            "reconciliation_rule_id": rule.id,
            "severity": "medium",
        }
