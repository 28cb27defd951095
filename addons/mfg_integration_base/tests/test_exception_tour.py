import unittest

from odoo.tests import HttpCase, common, new_test_user, tagged

from .planner_common import create_partner_contract, partner_envelope, receive


@tagged("post_install", "-at_install")
class TestMissingMappingTour(HttpCase):
    def setUp(self):
        super().setUp()
        # Odoo skips browser tests quietly without these; here a missing browser is a failure
        if common.websocket is None:
            self.fail("websocket-client is missing: setup/requirements-project.txt installs it.")
        try:
            common._find_executable()
        except unittest.SkipTest:
            self.fail("No Chromium found: setup/test.sh installs it (ensure_chromium).")

    def test_planner_maps_a_code_in_three_clicks(self):
        contract = create_partner_contract(self.env)
        system = self.env["mfg.integration.system"].create(
            {"name": "Test SAP", "code": "test_sap", "allowed_contract_ids": [(6, 0, contract.ids)]}
        )
        customer = self.env["res.partner"].create({"name": "Acme Gears Ltd"})
        new_test_user(
            self.env,
            login="tour_planner",
            password="tour_planner",
            groups="base.group_user,mfg_integration_base.group_mfg_integration_user",
        )
        events = receive(
            self.env,
            system,
            [partner_envelope("ACME-7"), partner_envelope("ACME-7"), partner_envelope("BOLT-1")],
        )
        exceptions = events.mapped("exception_id")
        self.assertEqual(set(exceptions.mapped("state")), {"open"})

        self.start_tour(
            "/odoo/action-mfg_integration_base.action_mfg_integration_exception",
            "mfg_integration_missing_mapping",
            login="tour_planner",
        )

        acme = exceptions.filtered(lambda x: x.external_code == "ACME-7")
        self.assertEqual(set(acme.mapped("state")), {"resolved"})
        self.assertEqual((exceptions - acme).state, "open")
        line = self.env["mfg.integration.mapping.line"].search(
            [("system_id", "=", system.id), ("external_code", "=", "ACME-7")]
        )
        self.assertEqual(line.target_ref, customer)
        self.assertEqual(set(events.filtered(lambda e: e.exception_id in acme).mapped("state")),
                         {"queued"})  # fmt: skip
