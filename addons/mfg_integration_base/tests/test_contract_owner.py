"""Contract owners get one activity per storm, kept current, closed when it clears."""

from datetime import timedelta

from odoo import fields
from odoo.tests.common import new_test_user

from .common import IntegrationCase

ALERT = "mfg_integration_base.mail_activity_type_contract_alert"


class TestContractOwner(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.owner = new_test_user(
            self.env, "contract_owner", groups="mfg_integration_base.group_mfg_integration_user"
        )
        self.mate = new_test_user(
            self.env, "contract_mate", groups="mfg_integration_base.group_mfg_integration_user"
        )
        self.contract.write({"owner_id": self.owner.id, "owner_team_ids": [(6, 0, self.mate.ids)]})
        self.contract.alert_threshold = 5
        self.Contract = self.env["mfg.integration.contract"]

    def alerts(self):
        return self.contract.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref(ALERT)
        )

    def storm(self, count, widget="X"):
        return self._receive(
            *[
                self.envelope(widget=widget, behaviour="business", subject=f"S{i}-{widget}")
                for i in range(count)
            ]
        )

    def test_the_owner_and_the_team_follow_the_contract(self):
        followers = self.contract.message_partner_ids
        self.assertIn(self.owner.partner_id, followers)
        self.assertIn(self.mate.partner_id, followers)

    def test_below_the_threshold_nobody_is_disturbed(self):
        self.storm(4)
        self.Contract._cron_alert_owners()
        self.assertFalse(self.alerts())

    def test_a_storm_is_one_activity_kept_current_then_closed_when_it_clears(self):
        events = self.storm(30)
        self.Contract._cron_alert_owners()
        alert = self.alerts()
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.user_id, self.owner)
        self.assertIn("30 open exceptions", alert.summary)
        self.assertIn("widget_unknown (30)", str(alert.note))
        self.assertIn(self.mate.partner_id, self.contract.message_ids[0].partner_ids)
        # the storm goes on: still one activity, with the new figure
        more = self.storm(10, widget="Y")
        self.Contract._cron_alert_owners()
        self.assertEqual(len(self.alerts()), 1)
        self.assertIn("40 open exceptions", self.alerts().summary)
        # resolved: the activity is done with a note
        (events | more).exception_id.action_discard(reason="test storm")
        self.Contract._cron_alert_owners()
        self.assertFalse(self.alerts())
        done = self.contract.message_ids.filtered(lambda m: "Cleared" in (m.body or ""))
        self.assertTrue(done, "the cleared activity leaves a note")

    def test_one_exception_past_its_sla_alerts_at_once(self):
        event = self.storm(1)
        event.exception_id.deadline = fields.Datetime.now() - timedelta(minutes=1)
        self.Contract._cron_alert_owners()
        self.assertIn("1 past SLA", self.alerts().summary)

    def test_a_contract_without_owner_alerts_nobody(self):
        self.contract.owner_id = False
        self.storm(8)
        self.assertEqual(self.Contract._cron_alert_owners(), 0)
