from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from odoo.addons.mfg_integration_base.tests.common import JobQueue


@tagged("post_install", "-at_install")
class TestMachineStatus(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contract = cls.env.ref("mfg_integration_mes.contract_machine_status_changed_1_0")
        cls.system = cls.env["mfg.integration.system"].create(
            {"name": "Line 1 gateway", "code": "line1_gw", "allowed_contract_ids": cls.contract.ids}
        )
        cls.workcenter = cls.env["mrp.workcenter"].create({"name": "Press 1"})
        Mapping = cls.env["mfg.integration.mapping"]
        workcenters = Mapping.create({"system_id": cls.system.id, "kind": "workcenter"})
        workcenters.line_ids = [
            (0, 0, {"external_code": "M1", "target_ref": f"mrp.workcenter,{cls.workcenter.id}"})
        ]
        cls.failure = cls.env.ref("mrp.block_reason1")
        losses = Mapping.create({"system_id": cls.system.id, "kind": "loss_reason"})
        losses.line_ids = [
            (
                0,
                0,
                {
                    "external_code": "fault",
                    "target_ref": f"mrp.workcenter.productivity.loss,{cls.failure.id}",
                },
            )
        ]
        cls.sequence = 0

    def _status(self, machine, state):
        type(self).sequence += 1
        queue = JobQueue(self.env)
        result = self.env["mfg.integration.event"]._ingest(
            self.system,
            [
                {
                    "specversion": "1.0",
                    "id": f"status-{self.sequence}",
                    "source": "line1",
                    "type": "machine.status.changed",
                    "subject": f"machine/{machine}",
                    "sequence": f"{self.sequence:012d}",
                    "data": {"machine": machine, "state": state, "raw_state": 3},
                }
            ],
        )
        self.assertEqual(result[0]["status"], "accepted")
        queue.perform_all(immediate_only=True)
        return self.env["mfg.integration.event"].search(
            [("system_id", "=", self.system.id), ("event_uid", "=", f"status-{self.sequence}")]
        )

    def test_fault_blocks_the_work_center_and_running_unblocks_it(self):
        event = self._status("M1", "fault")
        self.assertEqual(event.state, "done")
        self.workcenter.invalidate_recordset()
        self.assertEqual(self.workcenter.working_state, "blocked")
        block = self.env["mrp.workcenter.productivity"].search(
            [("workcenter_id", "=", self.workcenter.id), ("date_end", "=", False)]
        )
        self.assertEqual(block.loss_id, self.failure)
        self.assertIn(event.event_uid, block.description)
        self._status("M1", "fault")  # a repeated fault does not open a second block
        self.assertEqual(
            self.env["mrp.workcenter.productivity"].search_count(
                [("workcenter_id", "=", self.workcenter.id)]
            ),
            1,
        )
        self.assertEqual(self._status("M1", "running").state, "done")
        self.workcenter.invalidate_recordset()
        self.assertEqual(self.workcenter.working_state, "normal")
        self.assertTrue(block.date_end)

    def test_unmapped_machine_becomes_a_planners_exception(self):
        event = self._status("M9", "running")
        self.assertEqual(event.state, "failed")
        exception = event.exception_id
        self.assertEqual(exception.reason_code, "mapping_missing")
        self.assertEqual(exception.name, "Work center code 'M9' from Line 1 gateway has no mapping")
        self.assertEqual((exception.mapping_kind, exception.external_code), ("workcenter", "M9"))

    def test_unmapped_loss_reason_is_an_exception_too(self):
        event = self._status("M1", "stopped")
        self.assertEqual(
            event.exception_id.name, "Loss reason code 'stopped' from Line 1 gateway has no mapping"
        )
