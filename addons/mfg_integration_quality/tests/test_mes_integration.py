"""With the MES addon installed: a failed inspection the MES reports holds the lot, and the
MES's consumption of it becomes a business exception until the hold is released."""

import uuid
from unittest import SkipTest

from odoo.addons.mfg_integration_base.tests.common import JobQueue, utc_stamp

from .common import QualityCase


class TestMesIntegration(QualityCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "mes_order_ref" not in cls.env["mrp.production"]._fields:
            raise SkipTest("mfg_integration_mes is not installed")
        contracts = cls.env["mfg.integration.contract"].search(
            [
                ("code", "in", ("mes.material.consumed", "quality.inspection.recorded")),
                ("state", "=", "active"),
            ]
        )
        cls.line_mes = cls.env["mfg.integration.system"].create(
            {"name": "Line MES", "code": "line_mes_q", "allowed_contract_ids": contracts.ids}
        )

    def post(self, event_type, subject, data):
        type(self).sequence += 1
        event_id = str(uuid.uuid4())
        queue = JobQueue(self.env)
        result = self.Event._ingest(
            self.line_mes,
            [
                {
                    "specversion": "1.0",
                    "id": event_id,
                    "source": "plant/line-mes",
                    "type": event_type,
                    "time": utc_stamp(),
                    "subject": subject,
                    "sequence": f"{self.sequence:012d}",
                    "data": data,
                }
            ],
        )
        self.assertEqual(result[0]["status"], "accepted", result[0])
        queue.perform_all(immediate_only=True)
        return self.Event.search(
            [("system_id", "=", self.line_mes.id), ("event_uid", "=", event_id)]
        )

    def test_failed_mes_inspection_blocks_mes_consumption_until_released(self):
        production = self.env["mrp.production"].create(
            {"product_id": self.frame.id, "product_qty": 5, "bom_id": self.bom.id}
        )
        production.action_confirm()
        inspection = self.post(
            "quality.inspection.recorded",
            "S-1",
            {"lot": "S-1", "product_code": "QSTL", "characteristic": "thickness",
             "value": 2.35, "unit": "mm", "result": "fail", "inspector": "press-3 gauge",
             "production_ref": production.name},
        )  # fmt: skip
        self.assertEqual(inspection.state, "done", inspection.error)
        self.assertTrue(self.lot_s1.mfg_on_hold)
        self.assertEqual(production.mfg_check_count, 1)
        consume = {
            "production_ref": production.mes_order_ref,
            "product_code": "QSTL",
            "qty": 4,
            "lot": "S-1",
        }
        refused = self.post("mes.material.consumed", production.mes_order_ref, consume)
        self.assertBusinessError(refused, "lot_on_hold")
        self.assertIn("on hold", refused.exception_id.name + (refused.error or ""))
        self.assertFalse(
            production.move_raw_ids.move_line_ids.filtered(lambda line: line.lot_id == self.lot_s1)
        )
        # released in Odoo, the planner retries the refused consumption: it is booked
        self.Hold.search([("lot_id", "=", self.lot_s1.id)]).action_release()
        queue = JobQueue(self.env)
        refused.exception_id.action_retry()
        queue.perform_all(immediate_only=True)
        self.assertEqual(refused.state, "done", refused.error)
        lines = production.move_raw_ids.move_line_ids.filtered(
            lambda line: line.lot_id == self.lot_s1
        )
        self.assertEqual(sum(lines.mapped("quantity")), 4)
