"""Production and test systems are kept apart: keys, deliveries, endpoints, secrets."""

from odoo.exceptions import ValidationError
from odoo.tests.common import HttpCase, tagged
from odoo.tools.misc import file_open

from .common import create_widget_contract
from .test_outbound import OutboundCase


def _set_database_environment(env, value):
    env["ir.config_parameter"].sudo().set_param("mfg_integration_base.environment", value)


class TestEnvironmentSeparation(OutboundCase):
    def test_a_test_system_cannot_share_a_production_system_s_endpoint_or_secret(self):
        # (assertRaises, not assertRaisesRegex: only Odoo's rolls the failed write back)
        with self.assertRaises(ValidationError) as caught:
            self.system.copy(
                {
                    "code": "test_copy",
                    "name": "MES (test)",
                    "environment": "test",
                    "outbound_url": self.system.outbound_url.upper() + "/",
                }
            )
        self.assertIn("cannot share an endpoint", str(caught.exception))
        with self.assertRaises(ValidationError) as caught:
            self.system.copy(
                {
                    "code": "test_copy2",
                    "name": "MES (test)",
                    "environment": "test",
                    "outbound_url": "http://127.0.0.1:9/test-mes",
                    "signing_secret": self.system.signing_secret,
                }
            )
        self.assertIn("same signing secret", str(caught.exception))
        # the same endpoint in the same environment is a choice an admin may make
        twin = self.system.copy({"code": "twin", "name": "Twin"})
        twin.outbound_url = self.system.outbound_url
        with self.assertRaises(ValidationError) as caught:
            twin.environment = "test"
        self.assertIn("cannot share an endpoint", str(caught.exception))

    def test_nothing_is_delivered_across_environments_until_they_match(self):
        self.system.environment = "test"
        self.assertTrue(self.system.environment_mismatch)
        events = self.emit(widget="W-1")
        result = self.dispatch()
        self.assertIn("Not delivered", result)
        self.assertIn("test system", result)
        self.assertEqual(self.receiver.requests, [])
        self.assertEqual((events.state, events.attempts), ("queued", 0))
        self.assertEqual(self.system.consecutive_failures, 0)
        # this database becomes a test one: the test system is served
        _set_database_environment(self.env, "test")
        self.system.invalidate_recordset(["environment_mismatch"])
        self.assertFalse(self.system.environment_mismatch)
        self.dispatch()
        self.assertEqual(self.received_ids(), events.mapped("event_uid"))


@tagged("post_install", "-at_install")
class TestEnvironmentApi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        contract = create_widget_contract(cls.env)
        cls.system = cls.env["mfg.integration.system"].create(
            {
                "name": "Test-bench MES",
                "code": "bench_mes",
                "environment": "test",
                "allowed_contract_ids": [(6, 0, contract.ids)],
            }
        )
        cls.key = cls.system._generate_api_key()

    def test_a_test_system_s_key_is_refused_by_a_production_database(self):
        response = self.url_open(
            "/mfg/v1/contracts", headers={"Authorization": f"Bearer {self.key}"}
        )
        self.assertEqual(response.status_code, 403, response.text)
        error = response.json()["error"]
        self.assertEqual(error["code"], "environment_mismatch")
        self.assertIn("Test-bench MES is a test system", error["message"])
        _set_database_environment(self.env, "test")
        response = self.url_open(
            "/mfg/v1/contracts", headers={"Authorization": f"Bearer {self.key}"}
        )
        self.assertEqual(response.status_code, 200, response.text)


class TestNeutralize(OutboundCase):
    def test_a_neutralized_copy_becomes_a_test_database(self):
        with file_open("mfg_integration_base/data/neutralize.sql") as sql:
            self.env.cr.execute(sql.read())
        self.env["ir.config_parameter"].invalidate_model()
        self.assertEqual(self.env["mfg.integration.system"]._database_environment(), "test")
        self.assertTrue(self.system.environment_mismatch, "the production system is cut off")
