"""Pulls from the SAP emulator into Odoo through the inbox, the system of record rules, and
SAP's refusals landing in the exception queue."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue
from odoo.addons.mfg_integration_base.tests.receiver import RealTimeouts

from ..pulls import pull
from ..services import sap_messages
from .common import SapCase
from .sap_emulator_process import PASSWORD, SAP_CLIENT, EmulatorProcess

ORDERS = 30


@tagged("post_install", "-at_install")
class TestSapPulls(RealTimeouts, SapCase):
    @classmethod
    def setUpClass(cls):
        cls.emulator = EmulatorProcess(orders=ORDERS)
        cls.addClassCleanup(cls.emulator.stop)
        cls.sap_url = cls.emulator.service_root
        super().setUpClass()
        cls.system.write({"sap_password": PASSWORD, "sap_client": SAP_CLIENT})
        cls.Kind = cls.env["mfg.integration.record.kind"]

    def own(self, *codes):
        self.system.sor_kind_ids = [(6, 0, [self.Kind._by_code(code).id for code in codes])]

    def sap_events(self, event_type):
        return self.Event.search(
            [("system_id", "=", self.system.id), ("event_type", "=", event_type)]
        )

    def test_materials_boms_and_orders_come_in_when_sap_owns_them(self):
        self.own("product", "bom", "manufacturing_order")
        queue = JobQueue(self.env)
        counts = pull.pull_owned_kinds(self.system)
        self.assertEqual(counts["product"], 13)
        self.assertEqual(counts["bom"], 5)
        self.assertEqual(counts["manufacturing_order"], ORDERS)
        queue.perform_all()
        failed = self.Event.search([("system_id", "=", self.system.id), ("state", "!=", "done")])
        self.assertFalse(failed, failed.mapped("error")[:3])
        Mapping = self.env["mfg.integration.mapping"]
        caliper = Mapping._resolve(self.system, "product", "FG-BRK100")
        self.assertEqual(caliper.name, "Brake caliper assembly 100")
        self.assertEqual(caliper.tracking, "lot")
        self.assertEqual(Mapping._resolve(self.system, "product", "RM-PLT3MM").uom_id.name, "kg")
        bom = self.env["mrp.bom"].search(
            [
                ("sap_system_id", "=", self.system.id),
                ("product_tmpl_id", "=", caliper.product_tmpl_id.id),
            ]
        )
        self.assertEqual(len(bom), 1)
        self.assertEqual(
            sorted((line.product_id.default_code, line.product_qty) for line in bom.bom_line_ids),
            [("RM-BLT-M8", 4), ("RM-PAD-CER", 2), ("RM-PLT3MM", 1.25), ("RM-SEAL-40", 1)],
        )
        productions = self.Production.search([("sap_system_id", "=", self.system.id)])
        self.assertEqual(len(productions), ORDERS)
        # every tenth order of the emulator is created, not yet released: a draft in Odoo
        unreleased = productions.filtered(lambda p: p.sap_order_number == "1000009")
        self.assertEqual(unreleased.state, "draft")
        self.assertEqual(set((productions - unreleased).mapped("state")) - {"draft"}, {"confirmed"})
        first = productions.filtered(lambda p: p.sap_order_number == "1000000")
        self.assertTrue(first.sap_operation)
        # the SAP order number finds the order wherever an order is picked by name
        found = [record_id for record_id, _name in self.Production.name_search("1000000")]
        self.assertIn(first.id, found)
        self.assertTrue(self.system.sap_order_watermark)
        # a second pull reads the watermark's own second again: duplicates, nothing new, and
        # nothing refused (the initial load stamped its events now, the re-read carries
        # SAP's change time: the stored time is kept)
        self.assertEqual(pull.pull_orders(self.system), 0)
        self.assertEqual(pull.pull_materials(self.system), 0)
        self.assertEqual(pull.pull_boms(self.system), 0)
        refused = self.Event.search(
            [("system_id", "=", self.system.id), ("state", "=", "rejected")]
        )
        self.assertFalse(refused, refused.mapped("error")[:1])
        # SAP raises an order's quantity: the next pull brings it to the open order
        self.emulator._admin("POST", "orders/1000000", {"TotalQuantity": "77"})
        self.assertEqual(pull.pull_orders(self.system), 1)
        queue.perform_all()
        self.assertEqual(first.product_qty, 77)
        # SAP releases the created order: the next pull confirms the draft
        orders = self.system._sap_settings().client("API_PRODUCTION_ORDER_2_SRV")
        self.addCleanup(orders.session.close)
        order = orders.read_entity("A_ProductionOrder_2('1000009')")
        orders.call_function("ReleaseOrder", {"ManufacturingOrder": "1000009"}, etag=order.etag)
        self.assertEqual(pull.pull_orders(self.system), 1)
        queue.perform_all()
        self.assertEqual(unreleased.state, "confirmed")

    def test_an_order_from_sap_while_odoo_owns_orders_is_a_sor_conflict(self):
        self.own("product")
        queue = JobQueue(self.env)
        pull.pull_materials(self.system)
        self.assertEqual(pull.pull_orders(self.system), ORDERS)
        queue.perform_all()
        events = self.sap_events("sap.productionorder.released")
        self.assertEqual(set(events.mapped("state")), {"failed"})
        exception = events[0].exception_id
        self.assertEqual((exception.reason_code, exception.category), ("sor_conflict", "business"))
        self.assertIn("Odoo is the system of record", exception.name)
        self.assertFalse(self.Production.search([("sap_system_id", "=", self.system.id)]))

    def test_an_unknown_material_of_a_bom_is_a_missing_mapping(self):
        self.own("bom")
        queue = JobQueue(self.env)
        self.assertEqual(pull.pull_boms(self.system), 5)
        queue.perform_all()
        events = self.sap_events("sap.bom.changed")
        self.assertEqual(set(events.mapped("state")), {"failed"})
        self.assertEqual(set(events.exception_id.mapped("reason_code")), {"mapping_missing"})

    def test_a_bom_pulled_before_its_materials_waits_for_them_while_sap_owns_products(self):
        self.own("bom", "product")
        queue = JobQueue(self.env)
        self.assertEqual(pull.pull_boms(self.system), 5)
        queue.perform_all(immediate_only=True)
        events = self.sap_events("sap.bom.changed")
        self.assertEqual(set(events.mapped("state")), {"waiting"})
        self.assertFalse(events.exception_id, "no exception while the materials may come")
        # the initial load occurs now, however old SAP's last change: no weeks of "latency"
        recent = fields.Datetime.now() - timedelta(minutes=5)
        self.assertTrue(all(at >= recent for at in events.mapped("occurred_at")))
        pull.pull_materials(self.system)
        queue.perform_all(immediate_only=True)
        events._process_chunk()
        self.assertEqual(set(events.mapped("state")), {"done"}, events.mapped("error"))

    def test_a_person_cannot_change_the_quantity_of_an_order_sap_owns(self):
        self.own("manufacturing_order")
        production = self.sap_order(number="1000003", qty=5)
        with self.assertRaisesRegex(UserError, "change Quantity To Produce in SAP"):
            production.product_qty = 8
        production.origin = "edited in Odoo"  # other fields stay free
        self.own()  # Odoo owns orders again: the person may change it
        production.product_qty = 8
        self.assertEqual(production.product_qty, 8)

    def test_an_order_locked_in_sap_is_retried_then_lands_in_the_queue_in_plain_words(self):
        self.emulator.set_faults(business_errors=[{"kind": "order_locked", "order": "1000004"}])
        self.addCleanup(self.emulator.clear_faults)
        production = self.sap_order(number="1000004", qty=2)
        production.sap_operation = "0010"
        self.produce(production, 2, "L-LOCK-1")
        confirmation = self.outbound("1000004").filtered(
            lambda e: e.event_type == sap_messages.CONFIRMATION_CONTRACT
        )
        attempts = confirmation.contract_id.max_attempts
        self.Event.sudo()._dispatch_system(self.system.id)
        # a user's lock is gone a minute later: retried within the contract's attempts first
        self.assertEqual((confirmation.state, confirmation.attempts), ("queued", 1))
        self.assertFalse(confirmation.exception_id)
        for _attempt in range(attempts - 1):
            confirmation.sudo().next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
            self.system.sudo().outbound_resume_at = False
            self.Event.sudo()._dispatch_system(self.system.id)
        self.assertEqual((confirmation.state, confirmation.attempts), ("failed", attempts))
        exception = confirmation.exception_id
        self.assertEqual(
            (exception.category, exception.reason_code, exception.error_class),
            ("business", "delivery_refused", "intermittent"),
        )
        self.assertIn("SAP refused the confirmation: ", exception.name)
        self.assertIn("Order 1000004 is currently being processed by user", exception.name)
        self.assertIn("[SAP CO/473]", exception.name)
        # the goods movements of the same order wait behind it
        movements = self.outbound("1000004") - confirmation
        self.assertEqual(set(movements.mapped("state")), {"queued"})
