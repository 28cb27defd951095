from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue

from .common import CmmsCase


@tagged("post_install", "-at_install")
class TestSystemOfRecord(CmmsCase):
    def retry(self, event):
        queue = JobQueue(self.env)
        event.exception_id.action_retry()
        queue.perform_all(immediate_only=True)

    def test_work_orders_from_a_cmms_that_does_not_own_requests_are_conflicts(self):
        self.system.sor_kind_ids = [(5, 0, 0)]  # Odoo owns maintenance requests
        event = self.send(
            "cmms.workorder.created",
            {"workorder_ref": "WO-1", "title": "Bearings", "maintenance_type": "preventive",
             "equipment": "EQ-M1"},
        )  # fmt: skip
        self.assertBusinessError(event, "sor_conflict")
        self.assertFalse(self.request("WO-1"))

    def test_another_owner_of_requests_makes_an_update_a_conflict(self):
        request = self.create_order()
        other = self.env["mfg.integration.system"].create(
            {"name": "Corporate EAM", "code": "corp_eam", "kind": "cmms"}
        )
        self.system.sor_kind_ids = [(5, 0, 0)]
        self.own(other, "maintenance_request")
        event = self.send("cmms.workorder.updated", {"workorder_ref": "WO-1", "priority": "low"})
        self.assertBusinessError(event, "sor_conflict")
        self.assertEqual(request.priority, "3")
        # an execution fact is not an update of the request: once the refused update is
        # discarded (the owner decides the priority), the completion counts
        event.exception_id.action_discard(reason="Corporate EAM owns the priority")
        done = self.send("cmms.workorder.completed", {"workorder_ref": "WO-1", "labour_hours": 1})
        self.assertEqual(done.state, "done", done.error)

    def test_equipment_and_spare_parts_follow_their_owner(self):
        data = {"equipment": "EQ-M1", "labour_rate": 75.0, "spare_parts": ["BRG", "FLT"]}
        event = self.send("cmms.equipment.updated", data, subject="EQ-M1")
        self.assertBusinessError(event, "sor_conflict")  # Odoo owns equipment
        self.assertEqual(self.equipment.maintenance_labour_rate, 60.0)
        self.own(self.system, "equipment")
        self.retry(event)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.equipment.maintenance_labour_rate, 75.0)
        self.assertEqual(self.equipment.spare_part_ids, self.bearing | self.filter)

        part = {"part_code": "FLT", "name": "Hydraulic filter H10", "equipment": []}
        event = self.send("cmms.spare_part.updated", part)
        self.assertBusinessError(event, "sor_conflict")
        self.own(self.system, "spare_part")
        self.retry(event)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.filter.name, "Hydraulic filter H10")
        self.assertFalse(self.filter.spare_part_equipment_ids)
