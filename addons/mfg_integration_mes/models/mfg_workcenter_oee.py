from datetime import timedelta

from odoo import api, fields, models

# The scheduled refresh recomputes the shifts of the last two days: long enough to finish
# the shift in progress at the last run, short enough to stay cheap.
CRON_REFRESH_DAYS = 2


class MfgWorkcenterOee(models.Model):
    """OEE of one work center over one shift, computed from its stops and machine counters
    (formulas in services/oee.py); rows are recomputed, never edited."""

    _name = "mfg.workcenter.oee"
    _description = "Work Center OEE by Shift"
    _order = "shift_start desc, workcenter_id"
    _rec_name = "shift_name"

    workcenter_id = fields.Many2one(
        "mrp.workcenter", string="Work Center", required=True, ondelete="cascade", readonly=True
    )
    shift_name = fields.Char(string="Shift", readonly=True)
    shift_start = fields.Datetime(string="Shift Start", required=True, readonly=True)
    shift_end = fields.Datetime(string="Shift End", required=True, readonly=True)
    in_progress = fields.Boolean(string="In Progress", readonly=True)
    planned_minutes = fields.Float(string="Planned Time (min)", readonly=True)
    stop_minutes = fields.Float(string="Stop Time (min)", readonly=True)
    run_minutes = fields.Float(string="Run Time (min)", readonly=True)
    good_qty = fields.Float(string="Good Units", readonly=True)
    rejected_qty = fields.Float(string="Rejected Units", readonly=True)
    measured = fields.Boolean(
        string="Produced",
        readonly=True,
        help="Units were counted in this shift. Without any, performance, quality and OEE are "
        "not measurable: they are left out of the list and of the averages by default.",
    )
    availability = fields.Float(readonly=True, aggregator="avg")
    performance = fields.Float(readonly=True, aggregator="avg")
    quality = fields.Float(readonly=True, aggregator="avg")
    oee = fields.Float(string="OEE", readonly=True, aggregator="avg")

    _sql_constraints = [
        (
            "workcenter_shift_unique",
            "unique(workcenter_id, shift_start)",
            "A work center has one OEE row per shift.",
        )
    ]

    @api.model
    def _cron_refresh(self):
        now = fields.Datetime.now()
        # pylint: disable-next=no-search-all  # the hourly refresh covers every work center
        workcenters = self.env["mrp.workcenter"].search([])
        return self._refresh(workcenters, now - timedelta(days=CRON_REFRESH_DAYS), now)

    @api.model
    def _refresh(self, workcenters, start, end):
        """Recompute the rows of the shifts that begin in [start, end) and have begun."""
        now = fields.Datetime.now()
        for workcenter in workcenters:
            self.search(
                [
                    ("workcenter_id", "=", workcenter.id),
                    ("shift_start", ">=", start),
                    ("shift_start", "<", end),
                ]
            ).unlink()
            values = []
            for name, shift_start, shift_end in workcenter._shift_periods(start, min(end, now)):
                until = min(shift_end, now)
                figures = workcenter._shift_figures(shift_start, until)
                values.append(
                    {
                        "workcenter_id": workcenter.id,
                        "shift_name": name,
                        "shift_start": shift_start,
                        "shift_end": shift_end,
                        "in_progress": until < shift_end,
                        "planned_minutes": figures.planned_seconds / 60.0,
                        "stop_minutes": figures.stop_seconds / 60.0,
                        "run_minutes": figures.run_seconds / 60.0,
                        "good_qty": figures.good,
                        "rejected_qty": figures.rejected,
                        "measured": figures.counted > 0,
                        "availability": figures.availability,
                        "performance": figures.performance,
                        "quality": figures.quality,
                        "oee": figures.oee,
                    }
                )
            self.create(values)
        return self.search([("workcenter_id", "in", workcenters.ids)])
