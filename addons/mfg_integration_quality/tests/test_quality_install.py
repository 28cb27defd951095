import json

from odoo.tests.common import TransactionCase


class TestQualityInstall(TransactionCase):
    def test_depends_are_installed(self):
        modules = self.env["ir.module.module"].search(
            [("name", "in", ["mfg_integration_base", "mrp", "stock"])]
        )
        self.assertEqual(set(modules.mapped("state")), {"installed"})

    def test_contracts_load_with_valid_examples(self):
        contracts = self.env["mfg.integration.contract"].search(
            [("module", "=", "mfg_integration_quality")]
        )
        self.assertEqual(
            set(contracts.mapped("code")),
            {
                "quality.inspection.recorded",
                "quality.lot.held",
                "quality.lot.released",
                "quality.hold.snapshot",
                "quality.hold.placed",
                "quality.hold.released",
                "quality.ncr.created",
            },
        )
        for contract in contracts:
            self.assertTrue(contract._validator().is_valid(json.loads(contract.example)))
        inspection = self.env.ref(
            "mfg_integration_quality.contract_quality_inspection_recorded_1_0"
        )
        example = json.loads(inspection.example)
        self.assertFalse(inspection._validator().is_valid(dict(example, result="maybe")))

    def test_contracts_record_their_isa95_counterpart_and_are_active(self):
        contracts = self.env["mfg.integration.contract"].search(
            [("module", "=", "mfg_integration_quality")]
        )
        self.assertEqual(set(contracts.mapped("state")), {"active"})
        self.assertEqual(
            {c.code: c.isa95_object for c in contracts},
            {
                "quality.inspection.recorded": "operations_test",
                "quality.lot.held": "material_lot",
                "quality.lot.released": "material_lot",
                "quality.hold.snapshot": "material_lot",
                "quality.hold.placed": "material_lot",
                "quality.hold.released": "material_lot",
                "quality.ncr.created": "work_alert",
            },
        )
