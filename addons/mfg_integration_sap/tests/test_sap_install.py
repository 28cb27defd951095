import json

from odoo.tests.common import TransactionCase


class TestSapInstall(TransactionCase):
    def test_depends_are_installed(self):
        modules = self.env["ir.module.module"].search(
            [("name", "in", ["mfg_integration_base", "mrp", "purchase"])]
        )
        self.assertEqual(set(modules.mapped("state")), {"installed"})

    def test_contracts_load_with_direction_and_valid_examples(self):
        contracts = self.env["mfg.integration.contract"].search(
            [("module", "=", "mfg_integration_sap")]
        )
        directions = {contract.code: contract.direction for contract in contracts}
        self.assertEqual(
            directions,
            {
                "sap.productionorder.released": "inbound",
                "sap.material.changed": "inbound",
                "sap.bom.changed": "inbound",
                "sap.confirmation.posted": "outbound",
                "sap.goodsmovement.posted": "outbound",
            },
        )
        for contract in contracts:
            self.assertTrue(contract._validator().is_valid(json.loads(contract.example)))
        released = self.env.ref("mfg_integration_sap.contract_sap_productionorder_released_1_0")
        self.assertEqual(released.system_of_record, "external")
        # OData V2 decimals travel as strings: a JSON number is refused
        example = json.loads(released.example)
        self.assertFalse(released._validator().is_valid(dict(example, TotalQuantity=25)))

    def test_new_versions_only_add_optional_fields_and_deliver_in_batches(self):
        for code in ("sap.confirmation.posted", "sap.goodsmovement.posted"):
            old = self.env.ref(f"mfg_integration_sap.contract_{code.replace('.', '_')}_1_0")
            new = self.env.ref(f"mfg_integration_sap.contract_{code.replace('.', '_')}_1_1")
            old_schema, new_schema = json.loads(old.schema), json.loads(new.schema)
            self.assertEqual(old_schema["required"], new_schema["required"])
            self.assertLessEqual(set(old_schema["properties"]), set(new_schema["properties"]))
            self.assertTrue(new._validator().is_valid(json.loads(old.example)))
            self.assertTrue(new.batch_delivery)
            self.assertEqual(new.state, "active")
        released = self.env.ref("mfg_integration_sap.contract_sap_productionorder_released_1_1")
        self.assertEqual(released.state, "active")

    def test_a_pull_job_per_sap_system_following_its_interval(self):
        System = self.env["mfg.integration.system"]
        plain = System.create({"name": "MES", "code": "mes_no_sap"})
        self.assertFalse(plain.sap_pull_cron_id)
        system = System.create(
            {
                "name": "SAP",
                "code": "sap_cron",
                "kind": "erp",
                "sap_service_root": "https://s4.example.com/sap/opu/odata/sap/",
                "sap_pull_interval_minutes": 15,
            }
        )
        cron = system.sap_pull_cron_id
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (15, "minutes"))
        self.assertIn(f"browse({system.id})._cron_sap_pull()", cron.code)
        system.sap_pull_interval_minutes = 0
        self.assertFalse(cron.active)
        system.unlink()
        self.assertFalse(cron.exists())
