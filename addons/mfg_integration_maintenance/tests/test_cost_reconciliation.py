from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import CmmsCase


@tagged("post_install", "-at_install")
class TestCostReconciliation(CmmsCase):
    def test_cmms_cost_totals_against_odoo(self):
        self.create_order("WO-1")
        self.send(
            "cmms.part.consumed",
            {"workorder_ref": "WO-1", "consumption_ref": "C-1", "part_code": "BRG", "qty": 1},
        )
        self.send("cmms.workorder.completed", {"workorder_ref": "WO-1", "labour_hours": 2})
        self.create_order("WO-2")
        self.send("cmms.workorder.completed", {"workorder_ref": "WO-2", "labour_hours": 1})
        snapshot = self.send(
            "cmms.cost.snapshot",
            {
                # after this transaction's completions, whatever the date
                "taken_at": (fields.Datetime.now() + timedelta(minutes=1)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "workorders": [
                    {"workorder_ref": "WO-1", "labour_cost": 120.0, "parts_cost": 12.0},
                    {"workorder_ref": "WO-3", "labour_cost": 10.0, "parts_cost": 0.0},
                ],
            },
            subject="costs",
        )
        self.assertEqual(snapshot.state, "done", snapshot.error)
        rule = self.env["mfg.integration.reconciliation.rule"].create(
            {"name": "CMMS cost", "kind": "cmms_cost", "system_id": self.system.id}
        )
        run = rule._run(trigger="manual")
        self.assertEqual(run.state, "done", run.error)
        lines = {line.key: line for line in run.line_ids}
        self.assertEqual(lines["plant_cmms/WO-1/labour_cost"].status, "matched")
        self.assertEqual(lines["plant_cmms/WO-1/parts_cost"].status, "matched")
        self.assertEqual(lines["plant_cmms/WO-2/labour_cost"].status, "missing_external")
        self.assertEqual(lines["plant_cmms/WO-3/labour_cost"].status, "missing_in_odoo")
