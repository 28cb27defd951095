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

    def test_cost_pivot_by_equipment_work_center_and_month(self):
        other = self.env["maintenance.equipment"].create({"name": "Oven", "serial_no": "OV-1"})
        self.create_order("WO-1", planned_start="2026-11-20T06:00:00Z")
        self.send("cmms.workorder.completed", {"workorder_ref": "WO-1", "labour_hours": 1})
        self.create_order("WO-2", planned_start="2026-12-03T06:00:00Z")
        self.send(
            "cmms.part.consumed",
            {"workorder_ref": "WO-2", "consumption_ref": "C-1", "part_code": "BRG", "qty": 2},
        )
        self.send("cmms.workorder.completed", {"workorder_ref": "WO-2", "labour_hours": 2})
        self.create_order("WO-3", equipment="OV-1", planned_start="2026-12-04T06:00:00Z")
        self.send("cmms.workorder.completed", {"workorder_ref": "WO-3", "labour_hours": 1})
        groups = self.Request._read_group(
            [("cmms_system_id", "=", self.system.id)],
            ["equipment_id", "workcenter_id", "request_date:month"],
            ["labour_cost:sum", "parts_cost:sum", "total_cost:sum"],
        )
        rows = {
            (equipment.name, workcenter.name or None, month.strftime("%Y-%m")): costs
            for equipment, workcenter, month, *costs in groups
        }
        self.assertEqual(
            rows,
            {
                ("Press M1", "Press 1", "2026-11"): [60.0, 0.0, 60.0],
                ("Press M1", "Press 1", "2026-12"): [120.0, 24.0, 144.0],
                ("Oven", None, "2026-12"): [40.0, 0.0, 40.0],
            },
        )
        self.assertEqual(other.maintenance_ids.total_cost, 40.0)
