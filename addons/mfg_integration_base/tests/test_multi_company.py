"""Two companies, two plants: neither sees the other's systems, events, exceptions or mappings."""

from odoo.exceptions import AccessError
from odoo.tests.common import new_test_user

from .common import IntegrationCase

GROUP = "mfg_integration_base.group_mfg_integration_manager"


class TestMultiCompany(IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Plant Brno s.r.o."})
        cls.system_b = cls.env["mfg.integration.system"].create(
            {
                "name": "Brno MES",
                "code": "brno_mes",
                "company_id": cls.company_b.id,
                "allowed_contract_ids": [(6, 0, cls.contract.ids)],
            }
        )
        cls.user_a = new_test_user(
            cls.env, "planner_a", groups=GROUP, company_id=cls.company_a.id,
            company_ids=[(6, 0, cls.company_a.ids)],
        )  # fmt: skip
        cls.user_b = new_test_user(
            cls.env, "planner_b", groups=GROUP, company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )  # fmt: skip
        mappings = cls.env["mfg.integration.mapping"]
        cls.mapping_a = mappings.create({"system_id": cls.system.id, "kind": "product"})
        cls.mapping_b = mappings.create({"system_id": cls.system_b.id, "kind": "product"})

    def _receive_as(self, system, *envelopes):
        saved = self.system
        self.system = system
        try:
            return self._receive(*envelopes)
        finally:
            self.system = saved

    def test_each_plant_sees_only_its_own_traffic(self):
        event_a = self._receive(self.envelope(widget="A", behaviour="business", subject="A1"))
        event_b = self._receive_as(
            self.system_b, self.envelope(widget="B", behaviour="business", subject="B1")
        )
        self.assertEqual(event_b.company_id, self.company_b)
        self.assertEqual(event_b.exception_id.company_id, self.company_b)
        plant_a = (self.system, event_a, self.mapping_a)
        plant_b = (self.system_b, event_b, self.mapping_b)
        for user, own, other in ((self.user_a, plant_a, plant_b), (self.user_b, plant_b, plant_a)):
            with self.subTest(user=user.login):
                env = self.env(user=user)
                systems = env["mfg.integration.system"].search([])
                self.assertIn(own[0], systems)
                self.assertNotIn(other[0], systems)
                events = env["mfg.integration.event"].search(
                    [("event_uid", "in", [event_a.event_uid, event_b.event_uid])]
                )
                self.assertEqual(events, own[1])
                exceptions = env["mfg.integration.exception"].search([])
                self.assertIn(own[1].exception_id, exceptions)
                self.assertNotIn(other[1].exception_id, exceptions)
                mappings = env["mfg.integration.mapping"].search([])
                self.assertIn(own[2], mappings)
                self.assertNotIn(other[2], mappings)
                with self.assertRaises(AccessError):
                    env["mfg.integration.event"].browse(other[1].id).read(["payload"])

    def test_a_company_s_own_contract_is_hidden_from_the_other(self):
        own = self.env["mfg.integration.contract"].create(
            {
                "name": "Brno press counter",
                "code": "brno.press.counter",
                "version": "1.0",
                "schema": '{"type": "object"}',
                "company_id": self.company_b.id,
            }
        )
        self.assertNotIn(own, self.env(user=self.user_a)["mfg.integration.contract"].search([]))
        self.assertIn(own, self.env(user=self.user_b)["mfg.integration.contract"].search([]))
        shipped = self.env.ref("mfg_integration_base.contract_edge_heartbeat_1_0")
        self.assertIn(shipped, self.env(user=self.user_a)["mfg.integration.contract"].search([]))
