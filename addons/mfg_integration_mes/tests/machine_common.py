import itertools
from datetime import timedelta

from odoo.tests.common import TransactionCase

from odoo.addons.mfg_integration_base.tests.common import RUN_STARTED, JobQueue, utc_stamp

MACHINE_CONTRACTS = (
    "contract_mes_downtime_started_1_0",
    "contract_mes_downtime_ended_1_0",
    "contract_mes_downtime_reported_1_0",
    "contract_machine_status_changed_1_0",
    "contract_machine_counter_sampled_1_0",
)
_event_numbers = itertools.count(1)


def at(seconds_ago):
    """The naive UTC datetime Odoo stores for an event stamped ``utc_stamp(seconds_ago)``."""
    return RUN_STARTED.replace(tzinfo=None) - timedelta(seconds=seconds_ago)


class MachineCase(TransactionCase):
    """A gateway that sends machine and downtime events for machine M1 (work center Press 1,
    equipment Press 1 frame); loss reasons: fault (a breakdown) and tool (a tool change)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        contracts = cls.env["mfg.integration.contract"]
        for xmlid in MACHINE_CONTRACTS:
            contracts |= cls.env.ref(f"mfg_integration_mes.{xmlid}")
        cls.system = cls.env["mfg.integration.system"].create(
            {"name": "Line 1 gateway", "code": "line1_gw", "allowed_contract_ids": contracts.ids}
        )
        cls.equipment = cls.env["maintenance.equipment"].create({"name": "Press 1 frame"})
        cls.workcenter = cls.env["mrp.workcenter"].create(
            {"name": "Press 1", "equipment_id": cls.equipment.id}
        )
        cls.breakdown = cls.env.ref("mrp.block_reason1")
        cls.setup_loss = cls.env.ref("mrp.block_reason2")
        Mapping = cls.env["mfg.integration.mapping"]
        Mapping.create(
            {
                "system_id": cls.system.id,
                "kind": "workcenter",
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "external_code": "M1",
                            "target_ref": f"mrp.workcenter,{cls.workcenter.id}",
                        },
                    )
                ],
            }
        )
        loss_model = "mrp.workcenter.productivity.loss"
        Mapping.create(
            {
                "system_id": cls.system.id,
                "kind": "loss_reason",
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "external_code": "fault",
                            "target_ref": f"{loss_model},{cls.breakdown.id}",
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "external_code": "tool",
                            "target_ref": f"{loss_model},{cls.setup_loss.id}",
                        },
                    ),
                ],
            }
        )

    def send(self, event_type, data, seconds_ago=0, subject="machine/M1", run_later_jobs=False):
        """Post one event as the API would, run its jobs; the stored event."""
        event_id = f"{event_type}-{next(_event_numbers)}"
        queue = JobQueue(self.env)
        result = self.env["mfg.integration.event"]._ingest(
            self.system,
            [
                {
                    "specversion": "1.0",
                    "id": event_id,
                    "source": "line1",
                    "type": event_type,
                    "time": utc_stamp(seconds_ago),
                    "subject": subject,
                    "data": data,
                }
            ],
        )
        self.assertEqual(result[0]["status"], "accepted", result)
        queue.perform_all(immediate_only=not run_later_jobs)
        return self.env["mfg.integration.event"].search(
            [("system_id", "=", self.system.id), ("event_uid", "=", event_id)]
        )

    def stops(self):
        return self.env["mrp.workcenter.productivity"].search(
            [("workcenter_id", "=", self.workcenter.id)], order="date_start, id"
        )

    def requests(self, maintenance_type="corrective"):
        return self.env["maintenance.request"].search(
            [("equipment_id", "=", self.equipment.id), ("maintenance_type", "=", maintenance_type)]
        )
