from types import SimpleNamespace

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.services.errors import BusinessError

from ..handlers.production_order import handle_production_order
from ..services import sap_messages
from .common import SapCase


@tagged("post_install", "-at_install")
class TestSapCompletion(SapCase):
    def test_completion_emits_confirmation_issues_and_receipt_in_that_order(self):
        production = self.sap_order(qty=10)
        self.produce(production, 10, "L-0001")
        events = self.outbound("1000123")
        self.assertEqual(
            events.mapped("event_type"),
            [
                sap_messages.CONFIRMATION_CONTRACT,
                sap_messages.GOODS_MOVEMENT_CONTRACT,
                sap_messages.GOODS_MOVEMENT_CONTRACT,
            ],
        )
        self.assertEqual(set(events.mapped("contract_version")), {"1.1"})
        self.assertEqual(set(events.system_id.mapped("code")), {"sap_s4_test"})
        confirmation, issues, receipt = (event.payload for event in events)
        self.assertEqual(
            {k: v for k, v in confirmation.items() if k != "PostingDate"},
            {
                "OrderID": "1000123",
                "OrderOperation": "0020",
                "ConfirmationYieldQuantity": "10",
                "ConfirmationScrapQuantity": "0",
                "ConfirmationUnit": "PC",
                "FinalConfirmationType": "X",
            },
        )
        self.assertEqual(issues["GoodsMovementCode"], "03")
        self.assertEqual({i["StorageLocation"] for i in issues["items"]}, {"0001"})
        self.assertEqual(
            sorted(
                (i["Material"], i["GoodsMovementType"], i["QuantityInEntryUnit"], i.get("Batch"))
                for i in issues["items"]
            ),
            [("RM-SCREW", "261", "40", None), ("RM-STEEL", "261", "20", "S-1")],
        )
        self.assertEqual(receipt["GoodsMovementCode"], "02")
        [item] = receipt["items"]
        self.assertEqual(
            (item["Material"], item["GoodsMovementType"], item["QuantityInEntryUnit"]),
            ("FG-100", "101", "10"),
        )
        self.assertEqual(
            (item["Batch"], item["Plant"], item["StorageLocation"], item["ManufacturingOrder"]),
            ("L-0001", "1010", "0002", "1000123"),
        )

    def test_partial_completion_confirms_progress_and_the_backorder_keeps_the_order(self):
        production = self.sap_order(qty=10)
        self.produce(production, 4, "L-0002", backorder=True)
        backorder = self.Production.search(
            [("sap_order_number", "=", "1000123"), ("id", "!=", production.id)]
        )
        self.assertEqual(backorder.state, "confirmed")
        self.assertEqual(backorder.sap_system_id, self.system)
        self.assertEqual(backorder.sap_operation, "0020", "confirmed on the same SAP operation")
        first = self.outbound("1000123").filtered(
            lambda e: e.event_type == sap_messages.CONFIRMATION_CONTRACT
        )
        self.assertEqual(first.payload["ConfirmationYieldQuantity"], "4")
        self.assertEqual(first.payload["FinalConfirmationType"], "")
        backorder.action_assign()
        self.produce(backorder, 6, "L-0003")
        confirmations = self.outbound("1000123").filtered(
            lambda e: e.event_type == sap_messages.CONFIRMATION_CONTRACT
        )
        self.assertEqual(
            [(c.payload["ConfirmationYieldQuantity"], c.payload["FinalConfirmationType"])
             for c in confirmations],
            [("4", ""), ("6", "X")],
        )  # fmt: skip
        self.assertEqual({c.payload["OrderOperation"] for c in confirmations}, {"0020"})

    def test_sap_follow_up_of_a_completed_order_changes_nothing(self):
        """After Odoo completed an SAP order and confirmed it, SAP's own change of the order
        (its status moved) comes back with the next pull: nothing to change in Odoo. Asking
        for more than Odoo made is still an order_closed exception for a planner."""
        kind = self.env["mfg.integration.record.kind"]._by_code("manufacturing_order")
        self.system.sor_kind_ids = [(6, 0, kind.ids)]
        production = self.sap_order(qty=10)
        self.produce(production, 10, "L-0005")
        payload = {
            "ManufacturingOrder": "1000123",
            "Material": "FG-100",
            "ProductionUnit": "PC",
            "TotalQuantity": "10",
            "ManufacturingOrderOperation": "0020",
            "OrderIsReleased": True,
        }
        follow_up = SimpleNamespace(payload=payload, system_id=self.system)
        self.assertEqual(handle_production_order(self.env, follow_up), production)
        self.assertEqual(production.state, "done")
        self.assertEqual(production.product_qty, 10)
        self.assertEqual(self.Production.search_count([("sap_order_number", "=", "1000123")]), 1)
        more = SimpleNamespace(payload=dict(payload, TotalQuantity="12"), system_id=self.system)
        with self.assertRaises(BusinessError) as raised:
            handle_production_order(self.env, more)
        self.assertEqual(raised.exception.reason_code, "order_closed")

    def test_an_order_odoo_owns_sends_nothing_to_sap(self):
        production = self.Production.create({"product_id": self.bracket.id, "product_qty": 2})
        production.action_confirm()
        production.action_assign()
        self.produce(production, 2, "L-0004")
        self.assertFalse(
            self.Event.search([("direction", "=", "outbound"), ("system_id", "=", self.system.id)])
        )

    def test_a_system_that_does_not_allow_goods_movements_gets_only_confirmations(self):
        self.system.allowed_contract_ids -= self.system.allowed_contract_ids.filtered(
            lambda c: c.code == sap_messages.GOODS_MOVEMENT_CONTRACT
        )
        production = self.sap_order(qty=3)
        self.produce(production, 3, "L-0005")
        self.assertEqual(
            self.outbound("1000123").mapped("event_type"), [sap_messages.CONFIRMATION_CONTRACT]
        )
