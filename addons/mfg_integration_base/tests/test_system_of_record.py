from odoo.exceptions import ValidationError

from .common import IntegrationCase


class TestSystemOfRecord(IntegrationCase):
    """An object's change is applied only when it comes from the object's system of record."""

    def setUp(self):
        super().setUp()
        self.kinds = self.env["mfg.integration.record.kind"]
        self.bom_kind = self.env.ref("mfg_integration_base.record_kind_bom")
        self.other = self.env["mfg.integration.system"].create(
            {"name": "Plant ERP", "code": "erp_sor_test", "kind": "erp"}
        )

    def test_odoo_owns_what_no_system_owns(self):
        self.assertTrue(self.kinds._odoo_owns("bom"))
        self.assertEqual(self.bom_kind.owner_name, "Odoo")
        event = self._receive(self.envelope(widget="B-1", behaviour="sor"))
        self.assertEqual(event.state, "failed")
        exception = event.exception_id
        self.assertEqual((exception.reason_code, exception.category), ("sor_conflict", "business"))
        self.assertIn("Odoo is the system of record for Bills of materials", exception.name)
        self.assertIn("BoM B-1", exception.name)
        self.assertIn("System of Record For", exception.suggested_action)

    def test_the_owner_s_change_is_applied_and_configuring_the_owner_lets_a_retry_pass(self):
        refused = self._receive(self.envelope(widget="B-2", behaviour="sor", subject="B2"))
        self.assertEqual(refused.state, "failed")
        self.system.sor_kind_ids = self.bom_kind
        self.assertEqual(self.kinds._owner("bom"), self.system)
        self.assertEqual(self.bom_kind.owner_name, self.system.name)
        event = self._receive(self.envelope(widget="B-3", behaviour="sor", subject="B3"))
        self.assertEqual(event.state, "done")

    def test_another_system_s_change_of_an_owned_object_is_refused(self):
        self.other.sor_kind_ids = self.bom_kind
        event = self._receive(self.envelope(widget="B-4", behaviour="sor"))
        self.assertEqual(event.exception_id.reason_code, "sor_conflict")
        self.assertIn("Plant ERP is the system of record", event.exception_id.name)
        self.assertNotIn("half-applied", self.system.description or "")

    def test_a_kind_has_one_owner(self):
        self.other.sor_kind_ids = self.bom_kind
        with self.assertRaises(ValidationError):
            self.system.sor_kind_ids = self.bom_kind

    def test_an_unknown_kind_is_a_programming_error_not_a_silent_pass(self):
        with self.assertRaises(ValueError):
            self.kinds._check_inbound_update("no_such_kind", self.system, "x")


class TestOdooRefusal(IntegrationCase):
    """A UserError from Odoo's own rules is a business exception at once, not a retry loop."""

    def test_a_user_error_is_a_business_exception_and_rolls_back_the_event(self):
        event = self._receive(self.envelope(widget="W-9", behaviour="odoo_refuses"))
        self.assertEqual((event.state, event.attempts), ("failed", 1))
        exception = event.exception_id
        self.assertEqual((exception.reason_code, exception.category), ("odoo_refused", "business"))
        self.assertIn("Widget 'W-9' is archived", exception.name)
        self.assertNotEqual(self.system.description, "half-applied")

    def test_an_addon_s_reason_code_is_kept(self):
        event = self._receive(self.envelope(widget="L-1", behaviour="lot_on_hold"))
        self.assertEqual(event.exception_id.reason_code, "lot_on_hold")
        self.assertIn("Lot L-1 is on hold", event.exception_id.name)
