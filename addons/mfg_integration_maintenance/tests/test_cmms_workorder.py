from odoo.tests import tagged

from .common import CmmsCase


@tagged("post_install", "-at_install")
class TestCmmsWorkOrder(CmmsCase):
    def test_preventive_order_reserves_consumes_and_completes(self):
        request = self.create_order()
        self.assertEqual(len(request), 1)
        self.assertEqual(request.maintenance_type, "preventive")
        self.assertEqual(request.equipment_id, self.equipment)
        self.assertEqual(request.workcenter_id, self.press)
        self.assertEqual(request.user_id, self.technician)
        self.assertEqual(request.priority, "3")
        self.assertEqual(str(request.schedule_date), "2026-12-07 06:00:00")
        self.assertEqual(request.duration, 3)
        self.assertFalse(request.stage_id.done)

        reserved = self.send(
            "cmms.part.reserved",
            {"workorder_ref": "WO-1", "reservation_ref": "R-1", "part_code": "BRG", "qty": 3},
        )
        self.assertEqual(reserved.state, "done", reserved.error)
        picking = request.part_picking_ids
        self.assertEqual(len(picking), 1)
        self.assertEqual(picking.state, "assigned")
        self.assertEqual(picking.location_dest_id, self.maintenance_location)
        self.assertEqual(picking.move_ids.quantity, 3)
        self.assertEqual(self.bearing.free_qty, 7)  # three of the ten are set aside
        self.assertEqual(self.quantity(self.bearing, self.stock), 10)

        consumed = self.send(
            "cmms.part.consumed",
            {"workorder_ref": "WO-1", "consumption_ref": "C-1", "part_code": "BRG", "qty": 2},
        )
        self.assertEqual(consumed.state, "done", consumed.error)
        # the two came out of the reservation: one is still set aside
        self.assertEqual(picking.move_ids.product_uom_qty, 1)
        self.assertEqual(picking.move_ids.quantity, 1)
        self.assertEqual(self.quantity(self.bearing, self.stock), 8)
        self.assertEqual(self.quantity(self.bearing, self.consumption_location), 2)
        self.assertEqual(self.bearing.free_qty, 7)
        self.assertEqual(request.parts_cost, 24.0)
        # 8 on hand stays over the reorder point (6): nothing bought
        self.assertFalse(
            self.env["purchase.order.line"].search([("product_id", "=", self.bearing.id)])
        )

        completed = self.send(
            "cmms.workorder.completed",
            {"workorder_ref": "WO-1", "labour_hours": 2.5, "completed_at": "2026-12-07T09:30:00Z"},
        )
        self.assertEqual(completed.state, "done", completed.error)
        self.assertTrue(request.stage_id.done)
        self.assertEqual(str(request.close_date), "2026-12-07")
        self.assertEqual((request.labour_hours, request.labour_rate), (2.5, 60.0))
        self.assertEqual(request.labour_cost, 150.0)
        self.assertEqual(request.total_cost, 174.0)
        # the work is done: the part still set aside is free again
        self.assertEqual(picking.state, "cancel")
        self.assertEqual(self.bearing.free_qty, 8)
        self.assertEqual(self.quantity(self.bearing, self.maintenance_location), 0)

    def test_update_and_assignment_change_only_what_is_sent(self):
        request = self.create_order(technician="admin")
        other = self.env["res.users"].create({"name": "Other", "login": "other"})
        event = self.send(
            "cmms.workorder.updated",
            {"workorder_ref": "WO-1", "planned_start": "2026-12-08T07:00:00+01:00"},
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(str(request.schedule_date), "2026-12-08 06:00:00")
        self.assertEqual(request.name, "Replace spindle bearings")
        self.assertEqual(request.user_id.login, "admin")
        event = self.send(
            "cmms.technician.assigned", {"workorder_ref": "WO-1", "technician": "OTHER"}
        )
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(request.user_id, other)

    def test_unknown_technician_is_a_business_error(self):
        self.create_order()
        event = self.send(
            "cmms.technician.assigned", {"workorder_ref": "WO-1", "technician": "nobody"}
        )
        self.assertBusinessError(event, "technician_unknown")
        self.assertIn("nobody", event.exception_id.name + (event.error or ""))

    def test_labour_at_the_company_rate_without_an_equipment_rate(self):
        self.equipment.maintenance_labour_rate = 0.0
        request = self.create_order()
        self.send("cmms.workorder.completed", {"workorder_ref": "WO-1", "labour_hours": 2})
        self.assertEqual(request.labour_cost, 80.0)

    def test_downtime_is_a_productivity_loss_of_the_equipments_work_center(self):
        request = self.create_order(maintenance_type="corrective")
        data = {
            "workorder_ref": "WO-1",
            "downtime_ref": "D-1",
            "started_at": "2026-12-07T06:00:00Z",
            "ended_at": "2026-12-07T08:30:00Z",
        }
        self.assertEqual(self.send("cmms.downtime.reported", data).state, "done")
        self.send("cmms.downtime.reported", data)  # sent again, with a new event id
        stops = self.env["mrp.workcenter.productivity"].search(
            [("maintenance_request_id", "=", request.id)]
        )
        self.assertEqual(len(stops), 1)
        self.assertEqual(stops.workcenter_id, self.press)
        self.assertEqual(stops.loss_id, self.env.ref("mrp.block_reason1"))
        self.assertEqual(str(stops.date_end), "2026-12-07 08:30:00")

    def test_events_of_an_unknown_work_order_wait_for_it(self):
        event = self.send("cmms.workorder.completed", {"workorder_ref": "WO-9", "labour_hours": 1})
        self.assertEqual(event.state, "waiting")
        self.assertEqual(event.wait_reason, "prerequisite")
