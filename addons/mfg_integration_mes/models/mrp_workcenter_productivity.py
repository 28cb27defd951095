from odoo import _, api, fields, models

from odoo.addons.mfg_integration_base.services.errors import BusinessError

# Loss categories that stop the work center (as Odoo's own working state counts them):
# the stops that OEE availability and the current downtime show.
STOP_LOSS_TYPES = ("availability", "quality")


class MrpWorkcenterProductivity(models.Model):
    _inherit = "mrp.workcenter.productivity"

    integration_system_id = fields.Many2one(
        "mfg.integration.system",
        string="Reported By",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )
    downtime_ref = fields.Char(
        string="Downtime Reference",
        readonly=True,
        index="btree_not_null",
        help="The identifier of this stop in the system that reported it.",
    )
    maintenance_request_id = fields.Many2one(
        "maintenance.request",
        string="Maintenance Request",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The corrective request a breakdown opened on the work center's equipment.",
    )

    _sql_constraints = [
        (
            "downtime_ref_unique",
            "unique(integration_system_id, downtime_ref)",
            "This system already reported a stop with this reference.",
        )
    ]

    # -- private: stops reported by other systems --------------------------------------

    @api.model
    def _stops_domain(self, workcenter, start, end):
        """Stops of ``workcenter`` that overlap [start, end], the open ones included."""
        return [
            ("workcenter_id", "=", workcenter.id),
            ("loss_type", "in", STOP_LOSS_TYPES),
            ("date_start", "<=", end),
            "|",
            ("date_end", "=", False),
            ("date_end", ">", start),
        ]

    @api.model
    def _stop_at(self, workcenter, moment):
        """The stop of ``workcenter`` that covers ``moment``, if any."""
        return self.search(self._stops_domain(workcenter, moment, moment), limit=1)

    @api.model
    def _downtime_of(self, system, downtime_ref):
        """The stop ``system`` reported as ``downtime_ref``, if Odoo has it."""
        return self.search(
            [("integration_system_id", "=", system.id), ("downtime_ref", "=", downtime_ref)],
            limit=1,
        )

    @api.model
    def _report_description(self, event, downtime_ref):
        """What a planner reads on a reported stop: who reported it, and the MES's words."""
        data = event.payload
        lines = [
            _(
                "Stop %(ref)s (%(reason)s) reported by %(system)s (event %(event)s)",
                ref=downtime_ref,
                reason=data.get("reason") or _("no reason given"),
                system=event.system_id.name,
                event=event.event_uid,
            )
        ]
        if data.get("production_ref"):
            lines.append(_("Manufacturing order: %s", data["production_ref"]))
        if data.get("note"):
            lines.append(data["note"])
        return "\n".join(lines)

    @api.model
    def _open_downtime(self, system, downtime_ref, workcenter, loss, started_at, description):
        """Record a stop that started at ``started_at``; a breakdown opens its request."""
        stop = self.create(
            {
                "workcenter_id": workcenter.id,
                "company_id": workcenter.company_id.id or self.env.company.id,
                "loss_id": loss.id,
                "date_start": started_at,
                "integration_system_id": system.id,
                "downtime_ref": downtime_ref,
                "description": description,
            }
        )
        stop._open_breakdown_request()
        return stop

    def _end_downtime(self, ended_at, loss=None):
        """Close the stop at ``ended_at`` (again, if a machine status closed it first: the
        reporting system's end wins), reclassify it when the end names another reason."""
        self.ensure_one()
        if ended_at < self.date_start:
            raise BusinessError(
                "downtime_ends_before_start",
                _(
                    "Stop %(ref)s on %(workcenter)s ends (%(end)s UTC) before it started "
                    "(%(start)s UTC)",
                    ref=self.downtime_ref,
                    workcenter=self.workcenter_id.name,
                    end=ended_at,
                    start=self.date_start,
                ),
                suggested_action=_("Correct the end time with Edit Data and Retry, or discard it."),
                key_fields={"downtime_id": self.downtime_ref},
            )
        values = {}
        if self.date_end != ended_at:
            values["date_end"] = ended_at
        if loss and loss != self.loss_id:
            values["loss_id"] = loss.id
        if values:
            self.write(values)
        self._open_breakdown_request()
        self._record_request_duration()

    def _open_breakdown_request(self):
        """One corrective request per breakdown stop, on the work center's equipment."""
        for stop in self:
            equipment = stop.workcenter_id.equipment_id
            if stop.maintenance_request_id or not stop.loss_id.breakdown or not equipment:
                continue
            stop.maintenance_request_id = self.env["maintenance.request"].create(
                {
                    "name": _(
                        "Breakdown on %(workcenter)s: %(reason)s",
                        workcenter=stop.workcenter_id.name,
                        reason=stop.loss_id.name,
                    ),
                    "equipment_id": equipment.id,
                    "company_id": equipment.company_id.id or stop.company_id.id,
                    "maintenance_type": "corrective",
                    "priority": "3",
                    "request_date": stop.date_start.date(),
                    "description": stop.description or False,
                }
            )

    def _record_request_duration(self):
        """The request of a closed stop records the stop's length in hours (wall clock: a
        breakdown lasts as long as it lasts, working hours or not)."""
        for stop in self.filtered(lambda s: s.maintenance_request_id and s.date_end):
            hours = round((stop.date_end - stop.date_start).total_seconds() / 3600.0, 2)
            if stop.maintenance_request_id.duration != hours:
                stop.maintenance_request_id.duration = hours
