from odoo import _, api, fields, models
from odoo.tools import float_compare, float_is_zero, html2plaintext

from odoo.addons.mfg_integration_base.services.errors import BusinessError

from ..services.cmms_values import REQUEST_REF_PREFIX, cmms_priority, labour_cost

REQUEST_CONTRACT = "maintenance.request.created"


class MaintenanceRequest(models.Model):
    _inherit = "maintenance.request"

    cmms_system_id = fields.Many2one(
        "mfg.integration.system",
        string="CMMS",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="The maintenance system whose work order this request is.",
    )
    cmms_ref = fields.Char(
        string="CMMS Work Order",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The work order's number in the CMMS: its events name the request by it.",
    )
    workcenter_id = fields.Many2one(
        "mrp.workcenter",
        string="Work Center",
        compute="_compute_workcenter_id",
        store=True,
        help="The work center of the request's equipment (from the equipment's work-center "
        "link).",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    labour_hours = fields.Float(
        string="Labour Hours", readonly=True, help="Technician hours the CMMS booked."
    )
    labour_rate = fields.Float(
        string="Labour Rate",
        readonly=True,
        help="Cost of a technician hour when the work was completed (the equipment's rate, "
        "else the company's).",
    )
    labour_cost = fields.Monetary(compute="_compute_costs", store=True)
    parts_cost = fields.Monetary(compute="_compute_costs", store=True)
    total_cost = fields.Monetary(string="Maintenance Cost", compute="_compute_costs", store=True)
    part_move_ids = fields.One2many(
        "stock.move", "maintenance_request_id", string="Spare Part Moves", readonly=True
    )
    part_picking_ids = fields.One2many(
        "stock.picking", "maintenance_request_id", string="Spare Part Transfers", readonly=True
    )

    _sql_constraints = [
        (
            "cmms_ref_unique",
            "unique(cmms_system_id, cmms_ref)",
            "This CMMS already has a request for this work order.",
        )
    ]

    @api.depends("equipment_id.workcenter_ids")
    def _compute_workcenter_id(self):
        for request in self:
            request.workcenter_id = request.equipment_id.workcenter_ids[:1]

    @api.depends("labour_hours", "labour_rate", "part_move_ids.maintenance_cost")
    def _compute_costs(self):
        for request in self:
            request.labour_cost = labour_cost(request.labour_hours, request.labour_rate)
            request.parts_cost = sum(request.part_move_ids.mapped("maintenance_cost"))
            request.total_cost = request.labour_cost + request.parts_cost

    @api.model_create_multi
    def create(self, vals_list):
        requests = super().create(vals_list)
        # raised in Odoo (a user, an MES downtime, a counter): the CMMS plans the work
        requests.filtered(lambda r: not r.cmms_system_id)._emit_request_created()
        return requests

    def action_view_part_transfers(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("stock.action_picking_tree_all")
        action["domain"] = [("maintenance_request_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # -- outbound -----------------------------------------------------------------------

    def _emit_request_created(self):
        items = []
        for request in self.sudo():
            reference = f"{REQUEST_REF_PREFIX}{request.id}"
            workcenter = request.workcenter_id
            items.append(
                {
                    "subject": reference,
                    "data": {
                        "request_ref": reference,
                        "title": request.name[:256],
                        "maintenance_type": request.maintenance_type or "corrective",
                        "equipment": request.equipment_id.name or None,
                        "equipment_serial": request.equipment_id.serial_no or None,
                        "workcenter": workcenter.code or workcenter.name or None,
                        "priority": cmms_priority(request.priority),
                        "requested_at": request.create_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "requested_by": request.owner_user_id.name or "",
                        "description": html2plaintext(request.description or "")[:20000],
                    },
                }
            )
        return self.env["mfg.integration.event"]._maintenance_emit(REQUEST_CONTRACT, items)

    # -- CMMS work orders ---------------------------------------------------------------

    def _cmms_done_stage(self):
        return self.env["maintenance.stage"].search(
            [("done", "=", True)], order="sequence", limit=1
        )

    def _cmms_complete(self, hours, completed_at, note=None):
        """Close the request with the CMMS's labour hours at the equipment's rate."""
        self.ensure_one()
        rate = self.equipment_id._labour_rate() if self.equipment_id else 0.0
        rate = rate or self.company_id.maintenance_labour_rate
        values = {"labour_hours": hours, "labour_rate": rate}
        stage = self._cmms_done_stage()
        if stage and self.stage_id != stage and not self.stage_id.done:
            values["stage_id"] = stage.id
        self.write(values)
        self._cmms_release_reservations()
        # after the stage: Odoo stamps today's date on a request reaching a done stage
        self.close_date = completed_at.date()
        if note:
            self.message_post(body=note)

    def _cmms_locations(self):
        """(stock, maintenance, consumption) locations of the request's company."""
        self.ensure_one()
        company = self.company_id
        warehouse = self.env["stock.warehouse"].search([("company_id", "=", company.id)], limit=1)
        maintenance = company.maintenance_location_id
        consumption = company.maintenance_consumption_location_id
        if not (warehouse and maintenance and consumption):
            raise BusinessError(
                "maintenance_locations_missing",
                _(
                    "%(company)s has no warehouse, maintenance location or maintenance "
                    "consumption location for spare parts",
                    company=company.name,
                ),
                suggested_action=_(
                    "Set the maintenance locations on the company (Settings > Companies), then "
                    "retry."
                ),
                key_fields={"company": company.name},
            )
        return warehouse, maintenance, consumption

    def _cmms_reserve_part(self, part, quantity, reservation_ref):
        """Reserve ``quantity`` of ``part`` on an internal transfer to the maintenance
        location, less what this request already used of the part without a reservation
        (the consumption arrived first). The same reservation sent again sets its quantity,
        never adds to it; on a completed request nothing is left to reserve."""
        self.ensure_one()
        move = self.part_move_ids.filtered(
            lambda m: m.maintenance_kind == "reservation"
            and m.maintenance_ref == reservation_ref
            and m.product_id == part
        )[:1]
        rounding = part.uom_id.rounding
        used = move.maintenance_used_qty
        for consumption in self._cmms_unreserved_consumptions(part):
            taken = min(quantity - used, consumption.maintenance_unreserved_qty)
            if float_compare(taken, 0.0, precision_rounding=rounding) <= 0:
                break
            consumption.maintenance_unreserved_qty -= taken
            used += taken
        demand = quantity - used
        if move:
            move.write({"maintenance_reserved_qty": quantity, "maintenance_used_qty": used})
            if move.state not in ("done", "cancel"):
                move._cmms_set_demand(demand, keep=not self.stage_id.done)
            return move
        if self.stage_id.done or float_compare(demand, 0.0, precision_rounding=rounding) <= 0:
            demand = 0.0  # nothing left to set aside: the reservation is recorded, used up
        values = {"maintenance_reserved_qty": quantity, "maintenance_used_qty": used}
        return self._cmms_reservation_picking(part, demand, reservation_ref, values)

    def _cmms_reservation_picking(self, part, demand, reservation_ref, values):
        warehouse, maintenance, _consumption = self._cmms_locations()
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": warehouse.int_type_id.id,
                "location_id": warehouse.lot_stock_id.id,
                "location_dest_id": maintenance.id,
                "origin": self.cmms_ref or self.name,
                "maintenance_request_id": self.id,
                "company_id": self.company_id.id,
                "move_ids": [
                    (
                        0,
                        0,
                        dict(
                            values,
                            name=self.name,
                            product_id=part.id,
                            product_uom_qty=demand,
                            product_uom=part.uom_id.id,
                            location_id=warehouse.lot_stock_id.id,
                            location_dest_id=maintenance.id,
                            maintenance_request_id=self.id,
                            maintenance_kind="reservation",
                            maintenance_ref=reservation_ref,
                            company_id=self.company_id.id,
                        ),
                    )
                ],
            }
        )
        if float_is_zero(demand, precision_rounding=part.uom_id.rounding):
            picking.action_cancel()
            return picking.move_ids
        picking.action_confirm()
        picking.action_assign()
        return picking.move_ids

    def _cmms_unreserved_consumptions(self, part):
        return self.part_move_ids.filtered(
            lambda m: m.maintenance_kind == "consumption"
            and m.product_id == part
            and m.state == "done"
            and m.maintenance_unreserved_qty > 0
        ).sorted("id")

    def _cmms_consume_part(self, part, quantity, consumption_ref):
        """Post ``quantity`` of ``part`` used on this request, at the part's cost: first what
        the storekeeper issued to the maintenance location, then from stock, using up this
        request's reservations of the part. A shortfall is a business error, never a negative
        quant. Posted once per reference."""
        self.ensure_one()
        posted = self.part_move_ids.filtered(
            lambda m: m.maintenance_kind == "consumption" and m.maintenance_ref == consumption_ref
        )
        if posted:
            return posted
        warehouse, maintenance, consumption = self._cmms_locations()
        if part.tracking != "none":
            raise BusinessError(
                "part_tracked",
                _(
                    "Spare part %(part)s is tracked by lot or serial number: the CMMS does not "
                    "say which one was used",
                    part=part.display_name,
                ),
                suggested_action=_(
                    "Post this consumption in Odoo by hand, then discard the event."
                ),
                key_fields={"part": part._part_code()},
            )
        Quant = self.env["stock.quant"]
        rounding = part.uom_id.rounding
        from_maintenance = min(quantity, max(0.0, Quant._get_available_quantity(part, maintenance)))
        from_stock = quantity - from_maintenance
        unreserved = from_stock - self._cmms_use_reservations(part, from_stock)
        in_stock = Quant._get_available_quantity(part, warehouse.lot_stock_id)
        if float_compare(from_stock, in_stock, precision_rounding=rounding) > 0:
            raise BusinessError(
                "part_not_available",
                _(
                    "%(qty)s %(uom)s of spare part %(part)s used on %(request)s, but only "
                    "%(available)s %(uom)s are free in %(stock)s and %(maintenance)s",
                    qty=quantity,
                    uom=part.uom_id.name,
                    part=part.display_name,
                    request=self.cmms_ref or self.name,
                    available=max(0.0, in_stock) + from_maintenance,
                    stock=warehouse.lot_stock_id.display_name,
                    maintenance=maintenance.display_name,
                ),
                suggested_action=_(
                    "Receive the part or correct its stock in Odoo (or the quantity in the "
                    "event's data), then retry."
                ),
                key_fields={"request": self.cmms_ref or self.name, "part": part._part_code()},
            )
        moves = self.env["stock.move"]
        for source, source_quantity, source_unreserved in (
            (maintenance, from_maintenance, 0.0),
            (warehouse.lot_stock_id, from_stock, unreserved),
        ):
            if float_is_zero(source_quantity, precision_rounding=rounding):
                continue
            moves |= self.env["stock.move"].create(
                {
                    "name": _("Maintenance: %(request)s", request=self.cmms_ref or self.name),
                    "origin": self.cmms_ref or self.name,
                    "product_id": part.id,
                    "product_uom_qty": source_quantity,
                    "product_uom": part.uom_id.id,
                    "location_id": source.id,
                    "location_dest_id": consumption.id,
                    "maintenance_request_id": self.id,
                    "maintenance_kind": "consumption",
                    "maintenance_ref": consumption_ref,
                    "maintenance_unit_cost": part.standard_price,
                    "maintenance_unreserved_qty": source_unreserved,
                    "company_id": self.company_id.id,
                }
            )
        moves._action_confirm()
        moves._action_assign()
        moves.picked = True
        moves._action_done()
        part._maintenance_replenish(self.company_id)
        return moves

    def _cmms_use_reservations(self, part, quantity):
        """Count up to ``quantity`` against what this request's reservations of ``part`` set
        aside and no consumption used yet (an open reservation releases its reserved quants
        for the consumption; one released by the completion just counts); the quantity."""
        used = 0.0
        rounding = part.uom_id.rounding
        reservations = self.part_move_ids.filtered(
            lambda m: m.maintenance_kind == "reservation"
            and m.product_id == part
            and m.state != "done"
            and m.maintenance_reserved_qty > m.maintenance_used_qty
        ).sorted("id")
        for move in reservations:
            left = move.maintenance_reserved_qty - move.maintenance_used_qty
            taken = min(quantity - used, left)
            if float_compare(taken, 0.0, precision_rounding=rounding) <= 0:
                break
            move.maintenance_used_qty += taken
            if move.state != "cancel":
                move._cmms_set_demand(left - taken)
            used += taken
        return used

    def _cmms_release_reservations(self):
        """The work is done: what is still reserved for it goes back to free stock."""
        open_moves = self.part_move_ids.filtered(
            lambda m: m.maintenance_kind == "reservation" and m.state not in ("done", "cancel")
        )
        for move in open_moves:
            move._cmms_set_demand(0.0)

    def _cmms_record_downtime(self, system, downtime_ref, workcenter, loss, started_at, ended_at):
        """The equipment's work center stopped for this request, from ``started_at`` to
        ``ended_at``: one stop per reference."""
        self.ensure_one()
        Productivity = self.env["mrp.workcenter.productivity"]
        stop = Productivity._downtime_of(system, downtime_ref)
        if not stop:
            stop = Productivity.create(
                {
                    "workcenter_id": workcenter.id,
                    "company_id": workcenter.company_id.id or self.company_id.id,
                    "loss_id": loss.id,
                    "date_start": started_at,
                    "integration_system_id": system.id,
                    "downtime_ref": downtime_ref,
                    "maintenance_request_id": self.id,
                    "description": _(
                        "Maintenance %(request)s reported by %(system)s",
                        request=self.cmms_ref or self.name,
                        system=system.name,
                    ),
                }
            )
        elif stop.date_start != started_at:
            stop.date_start = started_at
        stop._end_downtime(ended_at, loss)
        return stop
