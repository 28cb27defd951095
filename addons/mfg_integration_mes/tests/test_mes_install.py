import json

from odoo.tests.common import TransactionCase


class TestMesInstall(TransactionCase):
    def test_depends_are_installed(self):
        modules = self.env["ir.module.module"].search(
            [("name", "in", ["mfg_integration_base", "mrp", "maintenance"])]
        )
        self.assertEqual(set(modules.mapped("state")), {"installed"})

    def test_contracts_load_with_valid_examples_and_draft_without_handler(self):
        contracts = self.env["mfg.integration.contract"].search(
            [("module", "=", "mfg_integration_mes")]
        )
        self.assertEqual(
            set(contracts.mapped("code")),
            {
                "mes.workorder.started",
                "mes.production.progress",
                "mes.production.completed",
                "mes.scrap.reported",
                "mes.downtime.reported",
                "machine.status.changed",
                "machine.counter.sampled",
                "mes.order.released",
                "mes.downtime.started",
                "mes.downtime.ended",
                "mes.material.consumed",
                "mes.order.closed",
                "mes.order.changed",
                "mes.order.cancelled",
                "mes.wip.snapshot",
            },
        )
        released = self.env.ref("mfg_integration_mes.contract_mes_order_released_1_0")
        self.assertEqual(released.direction, "outbound")
        # a contract loads active only when it needs no handler or an installed addon has it
        self.assertEqual(
            {c.code for c in contracts if c.state == "active"},
            {
                "machine.status.changed",
                "machine.counter.sampled",
                "mes.order.released",
                "mes.downtime.reported",
                "mes.downtime.started",
                "mes.downtime.ended",
                "mes.order.changed",
                "mes.order.cancelled",
                "mes.order.closed",
                "mes.workorder.started",
                "mes.production.progress",
                "mes.production.completed",
                "mes.material.consumed",
                "mes.scrap.reported",
                "mes.wip.snapshot",
            },
        )
        # the others wait as drafts for their handlers (once every flow exists, none is left)
        self.assertLessEqual(
            set(contracts.filtered(lambda c: c.state != "active").mapped("state")), {"draft"}
        )
        for contract in contracts:
            self.assertTrue(contract._validator().is_valid(json.loads(contract.example)))
        completed = self.env.ref("mfg_integration_mes.contract_mes_production_completed_1_0")
        self.assertFalse(completed._validator().is_valid({"production_ref": "WH/MO/1", "qty": 0}))

    def test_production_order_shows_its_integration_events(self):
        product = self.env["product.product"].create({"name": "Widget", "is_storable": True})
        production = self.env["mrp.production"].create({"product_id": product.id, "product_qty": 1})
        system = self.env["mfg.integration.system"].create({"name": "MES", "code": "mes_t"})
        contract = self.env.ref("mfg_integration_mes.contract_mes_production_completed_1_0")
        system.allowed_contract_ids = contract
        results = self.env["mfg.integration.event"]._ingest(
            system,
            [
                {
                    "specversion": "1.0",
                    "id": "mo-evt-1",
                    "source": "mes",
                    "type": "mes.production.completed",
                    "subject": production.name,
                    "data": {"production_ref": production.name, "qty": 1},
                }
            ],
        )
        self.assertEqual(results[0]["status"], "accepted")
        event = self.env["mfg.integration.event"].search([("event_uid", "=", "mo-evt-1")])
        action = production.action_view_integration_events()
        self.assertIn(event, self.env["mfg.integration.event"].search(action["domain"]))
        self.assertGreaterEqual(production.integration_event_count, 1)
        self.env["mfg.integration.event"]._ingest(
            system,
            [
                {
                    "specversion": "1.0",
                    "id": "no-subject-1",
                    "source": "mes",
                    "type": "mes.production.completed",
                    "data": {"production_ref": "ELSEWHERE", "qty": 1},
                }
            ],
        )
        other = self.env["mrp.production"].create({"product_id": product.id, "product_qty": 1})
        found = self.env["mfg.integration.event"].search(other._integration_event_domain())
        self.assertNotIn(event, found)
        self.assertFalse(found, "an order without MES reference is not every event's subject")
