"""Contract owners: the person who answers for a contract is told when it breaks.

A cron looks at every owned contract's open exceptions in one grouped query. When their
number reaches the contract's threshold, or one of them is past its SLA deadline, the owner
gets one activity on the contract (the team named beside the owner follows the contract and
gets a chatter note). A storm of one problem stays one activity: while it is open, the cron
updates its summary and note (how many, which reasons) instead of adding another. When the
contract is healthy again, the activity is marked done with a note saying so.
"""

from odoo import _, api, fields, models
from odoo.tools import SQL

ACTIVITY_TYPE = "mfg_integration_base.mail_activity_type_contract_alert"


class MfgIntegrationContract(models.Model):
    _inherit = "mfg.integration.contract"

    owner_id = fields.Many2one(
        "res.users",
        string="Owner",
        tracking=True,
        domain=[("share", "=", False)],
        help="Answers for this contract: gets one activity when its exceptions pile up or "
        "one of them is past its SLA.",
    )
    owner_team_ids = fields.Many2many(
        "res.users",
        "mfg_integration_contract_team_rel",
        "contract_id",
        "user_id",
        string="Team",
        domain=[("share", "=", False)],
        help="Also told (a chatter note on the contract, which they follow) when the owner is.",
    )
    alert_threshold = fields.Integer(
        string="Alert at Open Exceptions",
        default=10,
        tracking=True,
        help="The owner is alerted when this many exceptions of the contract are open (or as "
        "soon as one is past its SLA). 0: only SLA breaches alert.",
    )
    alert_open_since = fields.Datetime(readonly=True, copy=False)

    _sql_constraints = [
        ("alert_threshold_positive", "CHECK(alert_threshold >= 0)", "The threshold is >= 0."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        contracts = super().create(vals_list)
        contracts._follow_owners()
        return contracts

    def write(self, vals):
        result = super().write(vals)
        if "owner_id" in vals or "owner_team_ids" in vals:
            self._follow_owners()
        return result

    def _follow_owners(self):
        for contract in self:
            partners = (contract.owner_id | contract.owner_team_ids).partner_id
            if partners:
                contract.message_subscribe(partner_ids=partners.ids)

    @api.model
    def _owner_alert_figures(self):
        """{contract id: (open exceptions, past SLA, [(reason, count), ...])} of owned contracts
        with open exceptions; one query."""
        self.env["mfg.integration.exception"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT x.contract_id,
                       count(*),
                       count(*) FILTER (WHERE x.deadline < %(now)s),
                       array_agg(x.reason_code)
                  FROM mfg_integration_exception x
                  JOIN mfg_integration_contract c ON c.id = x.contract_id
                 WHERE x.state IN ('open', 'in_progress') AND c.owner_id IS NOT NULL
                 GROUP BY x.contract_id
                """,
                now=fields.Datetime.now(),
            )
        )
        figures = {}
        for contract_id, count, late, reasons in self.env.cr.fetchall():
            tally = {}
            for reason in reasons:
                tally[reason] = tally.get(reason, 0) + 1
            top = sorted(tally.items(), key=lambda item: (-item[1], item[0]))[:5]
            figures[contract_id] = (count, late, top)
        return figures

    @api.model
    def _cron_alert_owners(self):
        """One activity per troubled owned contract; done when the contract is healthy."""
        figures = self._owner_alert_figures()
        owned = self.sudo().search([("owner_id", "!=", False)])
        alerted = 0
        for contract in owned:
            count, late, top = figures.get(contract.id, (0, 0, []))
            troubled = late or (contract.alert_threshold and count >= contract.alert_threshold)
            activity = contract.activity_ids.filtered(
                lambda a: a.activity_type_id == self.env.ref(ACTIVITY_TYPE)
            )
            if troubled:
                contract._alert_owner(activity, count, late, top)
                alerted += 1
            elif activity:
                activity.action_feedback(
                    feedback=_("Cleared: %(count)s exceptions open, none past SLA.", count=count)
                )
                contract.alert_open_since = False
        return alerted

    def _alert_owner(self, activity, count, late, top):
        self.ensure_one()
        summary = _(
            "%(count)s open exceptions, %(late)s past SLA",
            count=count,
            late=late,
        )
        reasons = ", ".join(f"{reason} ({n})" for reason, n in top)
        note = _(
            "%(contract)s: %(count)s exceptions are open (threshold %(threshold)s), %(late)s "
            "past their SLA. Most frequent reasons: %(reasons)s.",
            contract=self.display_name,
            count=count,
            threshold=self.alert_threshold,
            late=late,
            reasons=reasons or "-",
        )
        if activity:
            # the same storm: one notice, kept current
            activity.write({"summary": summary, "note": note})
            return
        self.alert_open_since = fields.Datetime.now()
        self.activity_schedule(ACTIVITY_TYPE, summary=summary, note=note, user_id=self.owner_id.id)
        if self.owner_team_ids:
            self.message_post(
                body=note,
                partner_ids=self.owner_team_ids.partner_id.ids,
                subtype_xmlid="mail.mt_note",
            )
