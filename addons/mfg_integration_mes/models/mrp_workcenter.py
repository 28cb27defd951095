from datetime import timedelta

from odoo import _, api, fields, models

from ..services.oee import ShiftFigures, counted_units, covered_seconds, shift_periods
from .mrp_workcenter_productivity import STOP_LOSS_TYPES

# Days of shifts the OEE list recomputes when a planner opens it.
OEE_REFRESH_DAYS = 7


class MrpWorkcenter(models.Model):
    _inherit = "mrp.workcenter"

    equipment_id = fields.Many2one(
        "maintenance.equipment",
        string="Equipment",
        check_company=True,
        index="btree_not_null",
        tracking=True,
        help="The machine of this work center: breakdowns and counters open its maintenance "
        "requests.",
    )
    ideal_cycle_seconds = fields.Float(
        string="Ideal Cycle Time (s)",
        help="Seconds per unit at the machine's rated speed: the reference of OEE performance.",
    )
    good_counter = fields.Char(
        string="Good Units Counter",
        default="good",
        help="The machine counter that counts good units, as the machine names it.",
    )
    reject_counter = fields.Char(
        string="Rejected Units Counter",
        default="reject",
        help="The machine counter that counts rejected units, as the machine names it.",
    )
    current_downtime_id = fields.Many2one(
        "mrp.workcenter.productivity",
        string="Current Stop",
        compute="_compute_current_downtime",
    )
    current_downtime_reason_id = fields.Many2one(
        "mrp.workcenter.productivity.loss",
        string="Stopped For",
        compute="_compute_current_downtime",
    )
    current_downtime_start = fields.Datetime(
        string="Stopped Since", compute="_compute_current_downtime"
    )
    oee_shift_name = fields.Char(string="Shift", compute="_compute_shift_oee")
    oee_shift_availability = fields.Float(
        string="Availability This Shift", compute="_compute_shift_oee"
    )
    oee_shift_performance = fields.Float(
        string="Performance This Shift", compute="_compute_shift_oee"
    )
    oee_shift_quality = fields.Float(string="Quality This Shift", compute="_compute_shift_oee")
    oee_shift_overall = fields.Float(string="OEE This Shift", compute="_compute_shift_oee")

    @api.depends("time_ids.date_end", "time_ids.loss_type")
    def _compute_current_downtime(self):
        stops = self.env["mrp.workcenter.productivity"].search(
            [
                ("workcenter_id", "in", self.ids),
                ("date_end", "=", False),
                ("loss_type", "in", STOP_LOSS_TYPES),
            ],
            order="date_start",
        )
        first_stop = {}
        for stop in stops:
            first_stop.setdefault(stop.workcenter_id.id, stop)
        for workcenter in self:
            stop = first_stop.get(workcenter.id, stops.browse())
            workcenter.current_downtime_id = stop
            workcenter.current_downtime_reason_id = stop.loss_id
            workcenter.current_downtime_start = stop.date_start

    def _compute_shift_oee(self):
        now = fields.Datetime.now()
        for workcenter in self:
            shift = workcenter._current_shift(now)
            figures = workcenter._shift_figures(shift[1], min(shift[2], now)) if shift else None
            workcenter.oee_shift_name = shift[0] if shift else False
            workcenter.oee_shift_availability = figures.availability if figures else 0.0
            workcenter.oee_shift_performance = figures.performance if figures else 0.0
            workcenter.oee_shift_quality = figures.quality if figures else 0.0
            workcenter.oee_shift_overall = figures.oee if figures else 0.0

    def action_view_shift_oee(self):
        self.ensure_one()
        now = fields.Datetime.now()
        self.env["mfg.workcenter.oee"]._refresh(self, now - timedelta(days=OEE_REFRESH_DAYS), now)
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_mes.action_mfg_workcenter_oee"
        )
        action["domain"] = [("workcenter_id", "=", self.id)]
        action["context"] = {"default_workcenter_id": self.id}
        return action

    # -- private ------------------------------------------------------------------------

    def _end_stops(self, ended_at, note=None):
        """Close the open stops of the work center at ``ended_at`` (a machine runs again);
        a stop that began later (the message arrived late) stays open. ``note`` says why,
        in each stop's description."""
        self.ensure_one()
        stops = self.env["mrp.workcenter.productivity"].search(
            [
                ("workcenter_id", "=", self.id),
                ("date_end", "=", False),
                ("loss_type", "in", STOP_LOSS_TYPES),
                ("date_start", "<=", ended_at),
            ]
        )
        stops.date_end = ended_at
        for stop in stops.filtered(lambda s: note):
            stop.description = "\n".join(filter(None, [stop.description, note]))
        stops._record_request_duration()
        return stops

    def _shift_periods(self, start, end):
        """(name, start, end) of the shifts that begin in [start, end): one per attendance
        period of the work center's working calendar (lunch breaks excluded), naive UTC."""
        self.ensure_one()
        calendar = self.resource_calendar_id
        if not calendar:
            return self._day_periods(start, end)
        Attendance = self.env["resource.calendar.attendance"]
        attendances = calendar.attendance_ids.filtered(lambda a: a.day_period != "lunch")

        def attendances_on(day):
            week_type = Attendance.get_week_type(day) if calendar.two_weeks_calendar else None
            return [
                (attendance.name, attendance.hour_from, attendance.hour_to)
                for attendance in attendances
                if int(attendance.dayofweek) == day.weekday()
                and (week_type is None or int(attendance.week_type) == week_type)
                and (not attendance.date_from or attendance.date_from <= day)
                and (not attendance.date_to or attendance.date_to >= day)
            ]

        # one day of margin on each side: the calendar's time zone shifts days against UTC
        periods = shift_periods(
            attendances_on,
            calendar.tz,
            (start - timedelta(days=1)).date(),
            (end + timedelta(days=1)).date(),
        )
        return [period for period in periods if start <= period[1] < end]

    @api.model
    def _day_periods(self, start, end):
        """Without a working calendar, a shift is a UTC day."""
        periods = []
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            if day >= start:
                periods.append((_("Day"), day, day + timedelta(days=1)))
            day += timedelta(days=1)
        return periods

    def _current_shift(self, now):
        """The shift in progress, else the last one that ended (within a week), or None."""
        self.ensure_one()
        shifts = self._shift_periods(now - timedelta(days=OEE_REFRESH_DAYS), now)
        return shifts[-1] if shifts else None

    def _shift_figures(self, start, end):
        """OEE figures of the work center over [start, end) (see services/oee.py)."""
        self.ensure_one()
        Productivity = self.env["mrp.workcenter.productivity"]
        stops = Productivity.search_read(
            Productivity._stops_domain(self, start, end),
            ["date_start", "date_end"],
        )
        samples = self.env["mfg.workcenter.counter.sample"]._samples(self, start, end)
        return ShiftFigures(
            planned_seconds=max(0.0, (end - start).total_seconds()),
            stop_seconds=covered_seconds(
                [(stop["date_start"], stop["date_end"] or None) for stop in stops], start, end
            ),
            good=counted_units(samples.get(self.good_counter, []), start, end),
            rejected=counted_units(samples.get(self.reject_counter, []), start, end),
            ideal_cycle_seconds=self.ideal_cycle_seconds,
        )
