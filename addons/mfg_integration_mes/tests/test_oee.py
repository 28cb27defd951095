from datetime import date, datetime, timedelta

from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.tests import tagged
from odoo.tests.common import BaseCase

from ..services.oee import ShiftFigures, counted_units, covered_seconds, shift_periods
from .machine_common import MachineCase, at

HOUR = 3600


class TestOeeFormulas(BaseCase):
    def test_overlapping_stops_count_once_and_open_ones_run_to_the_period_end(self):
        start, end = datetime(2026, 1, 1, 6), datetime(2026, 1, 1, 14)
        stops = [
            (datetime(2026, 1, 1, 5), datetime(2026, 1, 1, 7)),  # 1 h inside the period
            (datetime(2026, 1, 1, 6, 30), datetime(2026, 1, 1, 7, 30)),  # overlaps: +30 min
            (datetime(2026, 1, 1, 13), None),  # still running: 1 h
            (datetime(2026, 1, 1, 15), datetime(2026, 1, 1, 16)),  # after the period
        ]
        self.assertEqual(covered_seconds(stops, start, end), 2.5 * HOUR)

    @settings(max_examples=200, deadline=None, database=None)
    @given(
        st.lists(
            st.tuples(st.integers(0, 600), st.one_of(st.none(), st.integers(1, 300))),
            max_size=8,
        ),
        st.integers(0, 300),
        st.integers(1, 300),
    )
    def test_stop_time_is_the_minutes_covered_by_any_stop(self, stops, offset, length):
        """Against counting, minute by minute, the minutes some stop covers."""
        origin = datetime(2026, 1, 1)
        minute = timedelta(minutes=1)
        start, end = origin + offset * minute, origin + (offset + length) * minute
        intervals = [
            (origin + begin * minute, None if span is None else origin + (begin + span) * minute)
            for begin, span in stops
        ]
        covered = sum(
            1
            for m in range(offset, offset + length)
            if any(
                begin <= origin + m * minute and (finish is None or origin + m * minute < finish)
                for begin, finish in intervals
            )
        )
        self.assertEqual(covered_seconds(intervals, start, end), covered * 60)

    def test_counting_counters_start_from_the_sample_before_the_period_and_survive_resets(self):
        start, end = datetime(2026, 1, 1, 6), datetime(2026, 1, 1, 14)
        samples = [
            (datetime(2026, 1, 1, 8), 1300),
            (datetime(2026, 1, 1, 5), 1000),  # the baseline
            (datetime(2026, 1, 1, 9), 40),  # reset to zero, then 40 counted
            (datetime(2026, 1, 1, 13), 100),
            (datetime(2026, 1, 1, 15), 900),  # after the period
        ]
        self.assertEqual(counted_units(samples, start, end), 300 + 40 + 60)

    def test_the_oee_is_availability_times_performance_times_quality(self):
        figures = ShiftFigures(
            planned_seconds=8 * HOUR,
            stop_seconds=2 * HOUR,
            good=700,
            rejected=35,
            ideal_cycle_seconds=25,
        )
        self.assertEqual(figures.availability, 0.75)
        self.assertAlmostEqual(figures.performance, 25 * 735 / (6 * HOUR))
        self.assertAlmostEqual(figures.quality, 700 / 735)
        self.assertAlmostEqual(figures.oee, 0.75 * (25 * 735 / (6 * HOUR)) * (700 / 735))
        nothing = ShiftFigures(0, 0, 0, 0, 25)
        self.assertEqual((nothing.availability, nothing.performance, nothing.oee), (0, 0, 0))

    def test_shifts_are_the_calendar_periods_in_its_time_zone(self):
        def attendances_on(day):
            return [("Late", 14, 22), ("Early", 6, 14)] if day.weekday() == 2 else []

        periods = list(
            shift_periods(attendances_on, "Europe/Berlin", date(2026, 3, 3), date(2026, 3, 5))
        )
        self.assertEqual(
            periods,
            [
                ("Early", datetime(2026, 3, 4, 5), datetime(2026, 3, 4, 13)),
                ("Late", datetime(2026, 3, 4, 13), datetime(2026, 3, 4, 21)),
            ],
        )


@tagged("post_install", "-at_install")
class TestWorkcenterOee(MachineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workcenter.ideal_cycle_seconds = 25

    def stop(self, loss, start, end=None):
        return self.env["mrp.workcenter.productivity"].create(
            {
                "workcenter_id": self.workcenter.id,
                "loss_id": loss.id,
                "date_start": start,
                "date_end": end,
            }
        )

    def count(self, counter, value, sampled_at):
        self.env["mfg.workcenter.counter.sample"].create(
            {
                "workcenter_id": self.workcenter.id,
                "counter": counter,
                "value": value,
                "sampled_at": sampled_at,
            }
        )

    def test_figures_of_a_period_come_from_its_stops_and_counters(self):
        start, end = at(10 * HOUR), at(2 * HOUR)
        hour = timedelta(hours=1)
        self.stop(self.breakdown, start + hour, start + 2 * hour)
        self.stop(self.setup_loss, start + 1.5 * hour, start + 2.5 * hour)  # 30 min more
        self.stop(self.env.ref("mrp.block_reason4"), start + 3 * hour, start + 4 * hour)  # speed
        self.stop(self.breakdown, end - 0.5 * hour)  # still stopped: 30 min in the period
        self.count("good", 1000, start - timedelta(minutes=10))
        self.count("good", 1500, start + 4 * hour)
        self.count("good", 1700, end - timedelta(minutes=1))
        self.count("good", 5000, end + timedelta(minutes=10))
        self.count("reject", 0, start + timedelta(minutes=1))
        self.count("reject", 35, end - timedelta(minutes=1))
        figures = self.workcenter._shift_figures(start, end)
        self.assertEqual((figures.planned_seconds, figures.stop_seconds), (8 * HOUR, 2 * HOUR))
        self.assertEqual((figures.good, figures.rejected), (700, 35))
        self.assertEqual(figures.availability, 0.75)
        self.assertAlmostEqual(figures.performance, 25 * 735 / (6 * HOUR))
        self.assertAlmostEqual(figures.quality, 700 / 735)
        self.assertAlmostEqual(figures.oee, 0.6076, places=4)

    def test_machine_status_changes_feed_availability(self):
        self.send("machine.status.changed", {"machine": "M1", "state": "fault"}, 3000)
        self.send("machine.status.changed", {"machine": "M1", "state": "running"}, 2400)
        figures = self.workcenter._shift_figures(at(HOUR), at(0))
        self.assertEqual(figures.stop_seconds, 600)
        self.assertAlmostEqual(figures.availability, 5 / 6)

    def test_oee_by_shift_follows_the_work_center_calendar(self):
        calendar = self.env["resource.calendar"].create(
            {
                "name": "Two shifts on Wednesdays",
                "tz": "Europe/Berlin",
                "attendance_ids": [
                    (0, 0, {"name": "Early", "dayofweek": "2", "hour_from": 6, "hour_to": 14}),
                    (0, 0, {"name": "Late", "dayofweek": "2", "hour_from": 14, "hour_to": 22}),
                ],
            }
        )
        self.workcenter.resource_calendar_id = calendar
        # Wednesday 4 March 2026, 15:00 UTC: the early shift (05:00-13:00 UTC) is over,
        # the late one (13:00-21:00 UTC) has run for two hours
        self.stop(self.breakdown, datetime(2026, 3, 4, 5, 30), datetime(2026, 3, 4, 6, 30))
        self.count("good", 0, datetime(2026, 3, 4, 5))
        self.count("good", 1008, datetime(2026, 3, 4, 12, 59))
        with freeze_time("2026-03-04 15:00:00"):
            action = self.workcenter.action_view_shift_oee()
            rows = self.env["mfg.workcenter.oee"].search(action["domain"], order="shift_start")
            self.assertEqual(
                [(r.shift_name, r.shift_start, r.in_progress, r.planned_minutes) for r in rows],
                [
                    ("Early", datetime(2026, 3, 4, 5), False, 480),
                    ("Late", datetime(2026, 3, 4, 13), True, 120),
                ],
            )
            early, late = rows
            self.assertEqual((early.stop_minutes, early.availability), (60, 0.875))
            self.assertEqual((early.good_qty, early.quality), (1008, 1.0))
            self.assertAlmostEqual(early.performance, 25 * 1008 / (7 * HOUR))
            self.assertEqual((late.availability, late.good_qty, late.oee), (1.0, 0, 0))
            # nothing counted in the late shift yet: its OEE is not measurable, not "0 %"
            self.assertEqual((early.measured, late.measured), (True, False))
            self.workcenter.invalidate_recordset()
            self.assertEqual(self.workcenter.oee_shift_name, "Late")
            self.assertEqual(self.workcenter.oee_shift_availability, 1.0)
            # a refresh replaces the rows, it does not add to them
            self.workcenter.action_view_shift_oee()
            self.assertEqual(self.env["mfg.workcenter.oee"].search_count(action["domain"]), 2)
            # the hourly job refreshes every work center the same way
            rows.unlink()
            self.env["mfg.workcenter.oee"]._cron_refresh()
            rows = self.env["mfg.workcenter.oee"].search(action["domain"], order="shift_start")
            self.assertEqual(rows.mapped("availability"), [0.875, 1.0])
        # planners find every work center's shifts under Manufacturing > Reporting
        menu = self.env.ref("mfg_integration_mes.menu_mfg_workcenter_oee")
        self.assertEqual(menu.action.res_model, "mfg.workcenter.oee")
        self.assertIn("search_default_measured", menu.action.context)

    def test_without_a_working_calendar_a_shift_is_a_day(self):
        self.workcenter.resource_calendar_id = False
        self.assertEqual(
            self.workcenter._shift_periods(datetime(2026, 1, 1, 10), datetime(2026, 1, 3, 10)),
            [
                ("Day", datetime(2026, 1, 2), datetime(2026, 1, 3)),
                ("Day", datetime(2026, 1, 3), datetime(2026, 1, 4)),
            ],
        )
