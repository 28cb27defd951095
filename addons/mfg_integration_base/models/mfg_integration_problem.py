from psycopg2.extras import execute_values

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class MfgIntegrationProblem(models.Model):
    """Identical failures (same contract, reason and key fields: one fingerprint) share a
    problem, so the exception queue shows one line with a count instead of a thousand."""

    _name = "mfg.integration.problem"
    _description = "Integration Problem (identical exceptions)"
    _order = "id desc"

    name = fields.Char(required=True, readonly=True)
    fingerprint = fields.Char(required=True, readonly=True, index=True)
    category = fields.Selection(
        [("business", "Business"), ("technical", "Technical")], readonly=True
    )
    reason_code = fields.Char(readonly=True)
    contract_id = fields.Many2one("mfg.integration.contract", readonly=True, ondelete="set null")
    exception_ids = fields.One2many("mfg.integration.exception", "problem_id", readonly=True)

    _sql_constraints = [
        ("fingerprint_unique", "unique(fingerprint)", "One problem per fingerprint."),
    ]

    def action_create_mapping(self):
        """From the exception queue's group row: map the code this problem waits on."""
        self.ensure_one()
        exception = self._open_exceptions().filtered("can_create_mapping")[:1]
        if not exception:
            raise UserError(_("No open exception of this problem waits on a mapping."))
        return exception.action_create_mapping()

    def action_retry(self):
        """From the exception queue's group row: retry every open exception of the problem."""
        exceptions = self._open_exceptions()
        if not exceptions:
            raise UserError(_("This problem has no open exception left."))
        return exceptions.action_retry()

    @api.model
    def _for_fingerprints(self, vals_list):
        """{fingerprint: problem id} for the exceptions about to be created (one search,
        one create of the new ones)."""
        first = {}
        for vals in vals_list:
            if vals.get("fingerprint"):
                first.setdefault(vals["fingerprint"], vals)
        if not first:
            return {}
        # ON CONFLICT: two jobs may open the first exception of a problem at the same time
        execute_values(
            self.env.cr._obj,
            """
            INSERT INTO mfg_integration_problem
                   (name, fingerprint, category, reason_code, contract_id, create_uid,
                    write_uid, create_date, write_date)
            VALUES %s
            ON CONFLICT (fingerprint) DO NOTHING
            """,
            [
                (
                    vals["name"],
                    fingerprint,
                    vals.get("category"),
                    vals.get("reason_code"),
                    vals.get("contract_id") or None,
                    self.env.uid,
                    self.env.uid,
                )
                for fingerprint, vals in sorted(first.items())
            ],
            template="(%s, %s, %s, %s, %s, %s, %s, now() at time zone 'utc', "
            "now() at time zone 'utc')",
        )
        self.env.cr.execute(
            "SELECT fingerprint, id FROM mfg_integration_problem WHERE fingerprint = ANY(%s)",
            [list(first)],
        )
        return dict(self.env.cr.fetchall())

    def _open_exceptions(self):
        return self.env["mfg.integration.exception"].search(
            [("problem_id", "in", self.ids), ("state", "in", ("open", "in_progress"))]
        )
