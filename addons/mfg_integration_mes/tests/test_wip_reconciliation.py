import json
import uuid
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mfg_integration_base.reconciliations.snapshots import naive_utc
from odoo.addons.mfg_integration_base.tests.common import JobQueue, utc_stamp

from ..reconciliations.mes_wip import chain_state
from .common import MesCase


@tagged("post_install", "-at_install")
class TestWipReconciliation(MesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.snapshot_contract = cls.env.ref("mfg_integration_mes.contract_mes_wip_snapshot_1_0")
        cls.system.allowed_contract_ids = [(4, cls.snapshot_contract.id)]
        cls.rule = cls.env["mfg.integration.reconciliation.rule"].create(
            {"name": "WIP", "kind": "mes_wip", "system_id": cls.system.id}
        )

    def snapshot(self, *orders):
        """Post a WIP snapshot of ``orders`` (reference, state, produced, scrapped), taken
        after every order of the test was released; the event."""
        # after this transaction's orders were created, whatever the date
        taken_at = fields.Datetime.now() + timedelta(minutes=1)
        data = {
            "taken_at": taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orders": [
                {"production_ref": ref, "state": state, "qty_produced": qty, "qty_scrapped": scrap}
                for ref, state, qty, scrap in orders
            ],
        }
        type(self).sequence += 1
        event_id = str(uuid.uuid4())
        queue = JobQueue(self.env)
        result = self.Event._ingest(
            self.system,
            [
                {
                    "specversion": "1.0",
                    "id": event_id,
                    "source": "plant/mes",
                    "type": "mes.wip.snapshot",
                    "time": utc_stamp(),
                    "subject": "wip",
                    "sequence": f"{self.sequence:012d}",
                    "data": data,
                }
            ],
        )
        self.assertEqual(result[0]["status"], "accepted", result[0])
        queue.perform_all(immediate_only=True)
        return self.Event.search([("system_id", "=", self.system.id), ("event_uid", "=", event_id)])

    def run_rule(self):
        run = self.rule._run(trigger="manual")
        self.assertEqual(run.state, "done", run.error)
        return run

    def statuses(self, run, reference):
        prefix = f"{self.system.code}/{reference}/"
        return {
            line.key.removeprefix(prefix): line.status
            for line in run.line_ids
            if line.key.startswith(prefix)
        }

    def open_exceptions(self):
        return self.env["mfg.integration.exception"].search(
            [
                ("reconciliation_rule_id", "=", self.rule.id),
                ("state", "in", ("open", "in_progress")),
            ]
        )

    def test_the_contract_is_active_with_a_valid_example(self):
        self.assertEqual(self.snapshot_contract.state, "active")
        self.assertEqual(self.snapshot_contract.direction, "inbound")
        self.assertEqual(self.snapshot_contract.isa95_object, "operations_performance")
        validator = self.snapshot_contract._validator()
        self.assertTrue(validator.is_valid(json.loads(self.snapshot_contract.example)))
        self.assertFalse(
            validator.is_valid(
                {
                    "taken_at": "2026-11-23T06:00:00Z",
                    "orders": [
                        {
                            "production_ref": "X",
                            "state": "paused",
                            "qty_produced": 1,
                            "qty_scrapped": 0,
                        }
                    ],
                }
            )
        )

    def test_matching_orders_are_matched_and_open_nothing(self):
        released = self.order(qty=10)
        running = self.order(qty=10)
        self.report("mes.production.progress", running, qty_done=4)
        self.report("mes.scrap.reported", running, qty=1, reason="DENT")
        self.assertEqual(running.state, "progress")
        event = self.snapshot(
            (released.mes_order_ref, "released", 0, 0),
            (running.mes_order_ref, "running", 4, 1),
        )
        self.assertEqual(event.state, "done", event.error)
        run = self.run_rule()
        expected = {"state": "matched", "qty_produced": "matched", "qty_scrapped": "matched"}
        self.assertEqual(self.statuses(run, released.mes_order_ref), expected)
        self.assertEqual(self.statuses(run, running.mes_order_ref), expected)
        self.assertEqual(run.difference_count, 0)
        self.assertFalse(self.open_exceptions())

    def test_quantity_beyond_tolerance_opens_an_exception_and_heals(self):
        self.rule.tolerance_absolute = 1.0
        production = self.order(qty=10)
        reference = production.mes_order_ref
        self.report("mes.production.progress", production, qty_done=4)
        self.snapshot((reference, "running", 5, 0))  # within the tolerance
        run = self.run_rule()
        self.assertEqual(self.statuses(run, reference)["qty_produced"], "matched")
        self.snapshot((reference, "running", 7, 0))
        run = self.run_rule()
        self.assertEqual(self.statuses(run, reference)["qty_produced"], "mismatch")
        line = run.line_ids.filtered(lambda row: row.key.endswith("/qty_produced"))
        self.assertEqual((line.odoo_value, line.external_value, line.difference), (4, 7, -3))
        exception = self.open_exceptions()
        self.assertEqual(exception.subject, f"{self.system.code}/{reference}/qty_produced")
        self.assertEqual(line.exception_id, exception)
        # the missing counts arrive: the next run heals it
        self.report("mes.production.progress", production, qty_done=7)
        self.snapshot((reference, "running", 7, 0))
        run = self.run_rule()
        self.assertEqual(run.difference_count, 0)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(len(self.rule.run_ids), 3, "each run is kept")

    def test_state_mismatch_ignores_the_tolerance(self):
        self.rule.write({"tolerance_absolute": 5.0, "tolerance_percent": 100.0})
        production = self.order(qty=10)
        reference = production.mes_order_ref
        self.snapshot((reference, "completed", 0, 0))
        run = self.run_rule()
        self.assertEqual(self.statuses(run, reference)["state"], "mismatch")
        exception = self.open_exceptions()
        self.assertIn("Odoo: released, MES: completed", exception.name)

    def test_orders_missing_on_either_side(self):
        in_odoo_only = self.order(qty=10)
        cancelled = self.order(qty=10)
        cancelled.action_cancel()
        self.report("mes.production.progress", in_odoo_only, qty_done=2)
        self.snapshot(("WH/MO/NOPE", "running", 3, 0))
        run = self.run_rule()
        self.assertEqual(
            self.statuses(run, "WH/MO/NOPE"),
            {
                "state": "missing_in_odoo",
                "qty_produced": "missing_in_odoo",
                "qty_scrapped": "matched",  # nothing scrapped is nothing missing
            },
        )
        self.assertEqual(
            self.statuses(run, in_odoo_only.mes_order_ref),
            {
                "state": "missing_external",
                "qty_produced": "missing_external",
                "qty_scrapped": "matched",
            },
        )
        # closed in Odoo and forgotten by the MES: not compared
        self.assertFalse(self.statuses(run, cancelled.mes_order_ref))
        self.assertEqual((run.missing_in_odoo_count, run.missing_external_count), (2, 2))
        self.assertEqual(len(self.open_exceptions()), 4)

    def test_a_backorder_chain_is_one_order(self):
        production = self.order(qty=10)
        reference = production.mes_order_ref
        self.report("mes.production.completed", production, qty=4)
        self.report("mes.scrap.reported", production, qty=1, reason="DENT")
        self.report("mes.production.progress", production, qty_done=7)
        first, backorder = self.chain(production)
        self.assertEqual((first.state, backorder.state), ("done", "progress"))
        self.assertEqual(chain_state(first | backorder), "running")
        self.snapshot((reference, "running", 7, 1))
        run = self.run_rule()
        self.assertEqual(
            self.statuses(run, reference),
            {"state": "matched", "qty_produced": "matched", "qty_scrapped": "matched"},
        )
        self.assertEqual(run.line_count, 3, "one order, not one per part of the chain")
        self.report("mes.production.completed", production, qty=5, final=True)
        self.snapshot((reference, "completed", 9, 1))
        run = self.run_rule()
        self.assertEqual(self.statuses(run, reference)["state"], "matched")
        self.assertEqual(run.difference_count, 0)

    def test_the_latest_snapshot_counts_and_none_fails_the_run(self):
        with mute_logger(
            "odoo.addons.mfg_integration_base.models.mfg_integration_reconciliation_rule"
        ):
            run = self.rule._run(trigger="manual")
        self.assertEqual(run.state, "failed")
        self.assertIn("no WIP snapshot", run.error)
        production = self.order(qty=10)
        reference = production.mes_order_ref
        self.snapshot((reference, "running", 3, 0))
        self.snapshot((reference, "released", 0, 0))
        run = self.run_rule()
        self.assertEqual(run.difference_count, 0)

    def test_a_snapshot_naming_an_order_twice_is_refused(self):
        with mute_logger("odoo.addons.mfg_integration_base.inbox.processing"):
            event = self.snapshot(("WH/MO/1", "running", 1, 0), ("WH/MO/1", "running", 2, 0))
        self.assertBusinessError(event, "snapshot_duplicate_order")
        later = self.snapshot(("WH/MO/1", "running", 2, 0))
        self.assertEqual(later.state, "done", later.error)
        self.assertEqual((event.state, event.exception_id.state), ("discarded", "resolved"))

    def test_chain_states_and_stamps(self):
        Production = self.Production
        self.assertEqual(chain_state(Production.new({"state": "cancel"})), "cancelled")
        self.assertEqual(chain_state(Production.new({"state": "confirmed"})), "released")
        self.assertEqual(chain_state(Production.new({"state": "to_close"})), "running")
        self.assertEqual(chain_state(Production.new({"state": "done"})), "completed")
        self.assertEqual(chain_state(Production.new({"state": "draft"})), "not released")
        self.assertEqual(
            naive_utc("2026-11-23T07:30:00+01:00"),
            fields.Datetime.to_datetime("2026-11-23 06:30:00"),
        )
        self.assertEqual(
            naive_utc("2026-11-23T06:30:00Z"), fields.Datetime.to_datetime("2026-11-23 06:30:00")
        )
