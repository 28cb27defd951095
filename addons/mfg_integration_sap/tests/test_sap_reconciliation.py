"""Reconciliations against the SAP emulator: stock per material, storage location and batch,
and the three-way check of a completion with its one-click correction; Test Connection."""

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue
from odoo.addons.mfg_integration_base.tests.receiver import RealTimeouts

from ..pulls import pull
from ..services import sap_messages
from .common import SapCase
from .sap_emulator_process import PASSWORD, SAP_CLIENT, EmulatorProcess


@tagged("post_install", "-at_install")
class TestSapReconciliation(RealTimeouts, SapCase):
    @classmethod
    def setUpClass(cls):
        cls.emulator = EmulatorProcess(orders=20)
        cls.addClassCleanup(cls.emulator.stop)
        cls.sap_url = cls.emulator.service_root
        super().setUpClass()
        cls.system.write({"sap_password": PASSWORD, "sap_client": SAP_CLIENT})

    def rule(self, kind):
        return self.env["mfg.integration.reconciliation.rule"].create(
            {"name": f"SAP {kind}", "kind": kind, "system_id": self.system.id, "window_days": 1}
        )

    def sap_client(self, service):
        client = self.system._sap_settings().client(service)
        self.addCleanup(client.session.close)
        return client

    def test_stock_against_quants_through_location_mappings(self):
        Kind = self.env["mfg.integration.record.kind"]
        self.system.sor_kind_ids = [(6, 0, [Kind._by_code("product").id])]
        queue = JobQueue(self.env)
        pull.pull_materials(self.system)
        queue.perform_all()
        supply = self.env["stock.location"].create(
            {"name": "Production supply", "usage": "internal", "location_id": self.stock.id}
        )
        mapping = self.env["mfg.integration.mapping"].create(
            {"system_id": self.system.id, "kind": "location"}
        )
        self.env["mfg.integration.mapping.line"].create(
            {"mapping_id": mapping.id, "external_code": "0001",
             "target_ref": f"stock.location,{supply.id}"}
        )  # fmt: skip
        rows = list(
            self.sap_client("API_MATERIAL_STOCK_SRV").iter_entities(
                "A_MatlStkInAcctMod",
                filter="StorageLocation eq '0001' and InventoryStockType eq '01'",
                decimal_fields=("MatlWrhsStkQtyInMatlBaseUnit",),
            )
        )
        self.assertGreaterEqual(len(rows), 3)
        Mapping = self.env["mfg.integration.mapping"]
        Quant = self.env["stock.quant"]
        off_by_three, missing = rows[0]["Material"], rows[1]["Material"]
        for row in rows:
            if row["Material"] == missing:
                continue
            product = Mapping._resolve(self.system, "product", row["Material"])
            quantity = float(row["MatlWrhsStkQtyInMatlBaseUnit"])
            if row["Material"] == off_by_three:
                quantity += 3
            Quant._update_available_quantity(product, supply, quantity)
        run = self.rule("sap_stock")._run(trigger="manual")
        self.assertEqual(run.state, "done", run.error)
        lines = run.line_ids.filtered(lambda line: "/0001/" in line.key)
        by_material = {line.key.split("/")[1]: line for line in lines}
        self.assertEqual(len(by_material), len({row["Material"] for row in rows}))
        self.assertEqual(by_material[off_by_three].status, "mismatch")
        self.assertAlmostEqual(by_material[off_by_three].difference, 3)
        self.assertEqual(by_material[missing].status, "missing_in_odoo")
        others = [line for code, line in by_material.items() if code not in (off_by_three, missing)]
        self.assertEqual({line.status for line in others}, {"matched"})

    def test_wrong_confirmation_is_seen_three_ways_and_corrected_in_one_click(self):
        orders = self.sap_client("API_PRODUCTION_ORDER_2_SRV")
        operations = orders.get_json("A_ProductionOrder_2('1000002')/to_ProductionOrderOperation")
        last = max(op["ManufacturingOrderOperation"] for op in operations["d"]["results"])
        # the emulator knows none of this plant's materials: confirmations only
        self.system.allowed_contract_ids -= self.system.allowed_contract_ids.filtered(
            lambda c: c.code == sap_messages.GOODS_MOVEMENT_CONTRACT
        )
        production = self.sap_order(number="1000002", qty=5)
        production.sap_operation = last
        self.produce(production, 5, "L-3W-1")
        self.Event.sudo()._dispatch_system(self.system.id)
        confirmation = self.outbound("1000002").filtered(
            lambda e: e.event_type == sap_messages.CONFIRMATION_CONTRACT
        )
        self.assertEqual(confirmation.state, "done", confirmation.error)
        # someone confirms 2 more in SAP by hand: SAP now says 7, Odoo 5
        self.sap_client(sap_messages.CONFIRMATION_SERVICE).create(
            "ProdnOrdConf2",
            {"OrderID": "1000002", "OrderOperation": last, "ConfirmationYieldQuantity": "2",
             "ConfirmationUnit": "PC"},
        )  # fmt: skip
        rule = self.rule("sap_confirmation")
        run = rule._run(trigger="manual")
        self.assertEqual(run.state, "done", run.error)
        [line] = run.line_ids
        self.assertEqual((line.status, line.odoo_value, line.external_value), ("mismatch", 5, 7))
        self.assertIn("Odoo 5.0, SAP 7.0, MES -", line.label)
        production.action_sap_check_confirmation()
        self.assertEqual((production.sap_produced_qty, production.sap_confirmed_qty), (5, 7))
        self.assertEqual(production.sap_confirmation_state, "mismatch")
        before = self.emulator.state()["cancelled_confirmations"]
        production.action_sap_correct_confirmation()
        self.assertEqual(self.emulator.state()["cancelled_confirmations"] - before, 2)
        note = production.message_ids[:1]
        self.assertIn("SAP confirmation corrected", note.body)
        self.Event.sudo()._dispatch_system(self.system.id)
        production.action_sap_check_confirmation()
        self.assertEqual(production.sap_confirmation_state, "matched")
        self.assertEqual(production.sap_confirmed_qty, 5)
        [line] = rule._run(trigger="manual").line_ids
        self.assertEqual(line.status, "matched")

    def test_connection_test_reports_each_step(self):
        action = self.system.action_sap_test_connection()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        self.assertEqual(wizard.result, "ok", wizard.report)
        self.assertIn("OK  Authentication and $metadata", wizard.report)
        self.assertIn("OK  Read one entity", wizard.report)
        self.assertIn("OK  CSRF token", wizard.report)
        self.assertRegex(wizard.report, r"\(\d+ ms\)")
        self.system.sap_password = "wrong"
        action = self.system.action_sap_test_connection()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        self.assertEqual(wizard.result, "failed")
        self.assertIn("SAP refused the credentials", wizard.report)
        self.assertNotIn("CSRF", wizard.report.split("FAILED", 1)[1])
