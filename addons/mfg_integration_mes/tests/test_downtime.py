from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue

from .machine_common import MachineCase, at


@tagged("post_install", "-at_install")
class TestDowntime(MachineCase):
    def start(self, downtime_id="D1", reason="fault", seconds_ago=1800, **data):
        data = dict({"downtime_id": downtime_id, "machine": "M1", "reason": reason}, **data)
        return self.send("mes.downtime.started", data, seconds_ago)

    def end(self, downtime_id="D1", seconds_ago=600, **data):
        data = dict({"downtime_id": downtime_id, "machine": "M1"}, **data)
        return self.send("mes.downtime.ended", data, seconds_ago)

    def test_start_opens_a_stop_and_a_breakdown_request_and_the_end_closes_both(self):
        event = self.start(production_ref="WH/MO/00042")
        self.assertEqual(event.state, "done")
        stop = self.stops()
        self.assertEqual(len(stop), 1)
        self.assertEqual(
            (stop.loss_id, stop.date_start, stop.date_end, stop.downtime_ref),
            (self.breakdown, at(1800), False, "D1"),
        )
        self.assertIn("WH/MO/00042", stop.description)
        self.workcenter.invalidate_recordset()
        self.assertEqual(self.workcenter.working_state, "blocked")
        self.assertEqual(self.workcenter.current_downtime_id, stop)
        request = self.requests()
        self.assertEqual(len(request), 1)
        self.assertEqual(stop.maintenance_request_id, request)
        self.assertEqual(request.name, "Breakdown on Press 1: Equipment Failure")
        self.assertEqual(request.duration, 0.0)

        self.assertEqual(self.end().state, "done")
        self.assertEqual(stop.date_end, at(600))
        self.assertEqual(request.duration, 0.33)  # 20 minutes
        self.workcenter.invalidate_recordset()
        self.assertEqual(self.workcenter.working_state, "normal")
        self.assertFalse(self.workcenter.current_downtime_id)

    def test_replayed_start_and_end_record_one_stop_and_one_request(self):
        self.start()
        self.end()
        self.start()  # the MES sends the same stop again under new event ids
        self.end()
        self.assertEqual(len(self.stops()), 1)
        self.assertEqual(len(self.requests()), 1)
        self.assertEqual(self.stops().date_end, at(600))

    def test_a_stop_that_is_no_breakdown_opens_no_request(self):
        self.start(reason="tool")
        self.end()
        self.assertEqual(self.stops().loss_id, self.setup_loss)
        self.assertFalse(self.requests())

    def test_no_request_without_equipment_on_the_work_center(self):
        self.workcenter.equipment_id = False
        self.start()
        self.assertTrue(self.stops())
        self.assertFalse(self.env["maintenance.request"].search([("name", "ilike", "Press 1")]))

    def test_an_end_naming_a_breakdown_reclassifies_the_stop_and_opens_the_request(self):
        self.start(reason="tool")
        self.end(reason="fault")
        stop = self.stops()
        self.assertEqual(stop.loss_id, self.breakdown)
        self.assertEqual(self.requests(), stop.maintenance_request_id)
        self.assertEqual(stop.maintenance_request_id.duration, 0.33)

    def test_an_end_before_its_start_waits_for_it_then_closes_the_stop(self):
        queue = JobQueue(self.env)
        ended = self.end()
        self.assertEqual(ended.state, "waiting")
        self.assertEqual(ended.error_code, "prerequisite_missing")
        self.assertFalse(self.stops())
        self.assertEqual(self.start().state, "done")  # the start arrives late
        self.assertFalse(self.stops().date_end)
        queue.perform_all()  # the end's retry, planned a minute later, runs now
        self.assertEqual(ended.state, "done")
        self.assertEqual(self.stops().date_end, at(600))
        self.assertEqual(self.requests().duration, 0.33)

    def test_an_end_that_carries_its_start_records_the_whole_stop_and_the_late_start_is_ignored(
        self,
    ):
        ended = self.end(reason="fault", duration_min=20)
        self.assertEqual(ended.state, "done")
        stop = self.stops()
        self.assertEqual((stop.date_start, stop.date_end), (at(1800), at(600)))
        self.assertEqual(self.requests().duration, 0.33)
        self.assertEqual(self.start(seconds_ago=1700).state, "done")
        self.assertEqual(self.stops(), stop)
        self.assertEqual((stop.date_start, stop.date_end), (at(1800), at(600)))
        self.assertEqual(len(self.requests()), 1)

    def test_an_end_earlier_than_its_start_is_a_planners_exception(self):
        self.start(seconds_ago=600)
        ended = self.end(seconds_ago=1800)
        self.assertEqual(ended.state, "failed")
        self.assertEqual(ended.exception_id.reason_code, "downtime_ends_before_start")
        self.assertIn("ends", ended.exception_id.name)
        self.assertFalse(self.stops().date_end)

    def test_an_unmapped_reason_is_an_exception_with_the_mapping_fix(self):
        event = self.start(reason="JAM")
        self.assertEqual(event.state, "failed")
        self.assertEqual(
            event.exception_id.name, "Loss reason code 'JAM' from Line 1 gateway has no mapping"
        )
        self.assertFalse(self.stops())

    def test_a_reported_downtime_is_a_closed_stop_ending_at_the_event_time(self):
        event = self.send(
            "mes.downtime.reported", {"machine": "M1", "reason": "fault", "duration_min": 15}, 900
        )
        self.assertEqual(event.state, "done")
        stop = self.stops()
        self.assertEqual((stop.date_start, stop.date_end), (at(1800), at(900)))
        self.assertEqual(stop.maintenance_request_id.duration, 0.25)
        self.assertEqual(event.result_res_id, stop.id)

    def test_machine_status_closes_its_stop_at_the_machines_time_and_times_the_request(self):
        self.send("machine.status.changed", {"machine": "M1", "state": "fault"}, 1800)
        self.send("machine.status.changed", {"machine": "M1", "state": "running"}, 900)
        stop = self.stops()
        self.assertEqual((stop.date_start, stop.date_end), (at(1800), at(900)))
        self.assertEqual(stop.maintenance_request_id, self.requests())
        self.assertEqual(self.requests().duration, 0.25)

    def test_the_maintenance_request_lists_the_stop_that_opened_it(self):
        self.start()
        self.assertEqual(self.requests().downtime_ids, self.stops())

    def test_a_late_running_status_older_than_the_stop_leaves_it_open(self):
        self.send("machine.status.changed", {"machine": "M1", "state": "fault"}, 600)
        self.send("machine.status.changed", {"machine": "M1", "state": "running"}, 900)
        self.assertFalse(self.stops().date_end)
        self.workcenter.invalidate_recordset()
        self.assertEqual(self.workcenter.working_state, "blocked")

    def test_a_late_fault_older_than_the_running_status_records_the_stop_it_missed(self):
        self.send("machine.status.changed", {"machine": "M1", "state": "running"}, 900)
        self.send("machine.status.changed", {"machine": "M1", "state": "fault"}, 1800)  # late
        stop = self.stops()
        self.assertEqual((stop.date_start, stop.date_end), (at(1800), at(900)))
        self.assertEqual(self.requests().duration, 0.25)
        self.workcenter.invalidate_recordset()
        self.assertEqual(self.workcenter.working_state, "normal")
        # the machine faults again: a stop of its own, still open
        self.send("machine.status.changed", {"machine": "M1", "state": "fault"}, 300)
        self.send("machine.status.changed", {"machine": "M1", "state": "fault"}, 1200)  # known
        self.send("machine.status.changed", {"machine": "M1", "state": "fault"}, 600)  # missed
        self.assertEqual(
            [(s.date_start, s.date_end) for s in self.stops()],
            [(at(1800), at(900)), (at(600), at(300)), (at(300), False)],
        )
        self.assertEqual(len(self.requests()), 3)
