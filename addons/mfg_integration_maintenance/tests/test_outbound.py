from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.receiver import RealTimeouts, Receiver

from .common import CmmsCase

OUTBOUND = (
    "maintenance.request.created",
    "maintenance.part.availability",
    "maintenance.equipment.changed",
)


@tagged("post_install", "-at_install")
class TestOutbound(RealTimeouts, CmmsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver()
        cls.receiver.__enter__()
        cls.addClassCleanup(cls.receiver.__exit__)
        contracts = cls.env["mfg.integration.contract"].search(
            [("code", "in", OUTBOUND), ("state", "=", "active")]
        )
        cls.system.write(
            {
                "allowed_contract_ids": [(4, contract.id) for contract in contracts],
                "outbound_adapter": "webhook",
                "outbound_url": cls.receiver.url,
                "signing_secret": cls.receiver.secret,
            }
        )

    def outbound(self, contract_code):
        return self.Event.search(
            [("direction", "=", "outbound"), ("event_type", "=", contract_code)], order="id"
        )

    def test_a_request_raised_by_a_user_reaches_the_cmms(self):
        request = self.Request.create(
            {"name": "Oil leak", "equipment_id": self.equipment.id, "priority": "2"}
        )
        event = self.outbound("maintenance.request.created")
        self.assertEqual(len(event), 1)
        self.assertEqual(event.system_id, self.system)
        self.assertEqual(event.subject, f"maintenance.request/{request.id}")
        self.assertEqual(event.payload["title"], "Oil leak")
        self.assertEqual(event.payload["workcenter"], "M1")
        self.assertEqual(event.payload["priority"], "normal")

    def test_a_request_raised_by_an_employee_without_integration_rights_is_sent(self):
        employee = self.env["res.users"].create(
            {
                "name": "Operator",
                "login": "operator",
                "groups_id": [(6, 0, self.env.ref("base.group_user").ids)],
            }
        )
        request = (
            self.Request.with_user(employee)
            .create({"name": "Noise on the press", "equipment_id": self.equipment.id})
            .sudo()
        )
        event = self.outbound("maintenance.request.created")
        self.assertEqual(event.subject, f"maintenance.request/{request.id}")
        self.assertEqual(event.payload["requested_by"], "Operator")

    def test_a_breakdown_from_an_mes_downtime_reaches_the_cmms(self):
        Productivity = self.env["mrp.workcenter.productivity"]
        stop = Productivity._open_downtime(
            self.system,
            "MES-STOP-1",
            self.press,
            self.env.ref("mrp.block_reason1"),
            self.env.cr.now().replace(microsecond=0),
            "Spindle seized",
        )
        self.assertTrue(stop.maintenance_request_id)
        event = self.outbound("maintenance.request.created")
        self.assertEqual(event.payload["maintenance_type"], "corrective")
        self.assertEqual(event.payload["equipment"], "Press M1")

    def test_a_cmms_work_order_is_not_echoed_back(self):
        self.create_order()
        self.assertFalse(self.outbound("maintenance.request.created"))

    def test_part_stock_changes_tell_the_cmms_what_is_free(self):
        self.create_order()
        self.send(
            "cmms.part.reserved",
            {"workorder_ref": "WO-1", "reservation_ref": "R-1", "part_code": "BRG", "qty": 3},
        )
        self.send(
            "cmms.part.consumed",
            {"workorder_ref": "WO-1", "consumption_ref": "C-1", "part_code": "BRG", "qty": 2},
        )
        events = self.outbound("maintenance.part.availability")
        self.assertTrue(events)
        self.assertEqual(set(events.mapped("subject")), {"part/BRG"})
        self.assertEqual(events[0].payload["available"], 7)  # reserved
        self.assertEqual((events[-1].payload["on_hand"], events[-1].payload["available"]), (8, 7))

    def test_equipment_changes_reach_the_cmms(self):
        self.equipment.write({"serial_no": "SN-M1-B", "note": "not sent"})
        event = self.outbound("maintenance.equipment.changed")
        self.assertEqual(len(event), 1)
        self.assertEqual(event.payload["serial_no"], "SN-M1-B")
        self.assertEqual(event.payload["workcenter"], "M1")
        self.assertEqual(event.payload["spare_parts"], ["BRG"])
        self.equipment.note = "still not sent"
        self.assertEqual(len(self.outbound("maintenance.equipment.changed")), 1)
