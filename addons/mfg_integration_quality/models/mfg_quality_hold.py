import uuid

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_is_zero

from ..services import hold_messages

# What a hold's state becomes per disposition of the lot.
DISPOSITION_STATES = {
    "use_as_is": "released",
    "rework": "reworked",
    "scrap": "scrapped",
    "return": "returned",
}
OUTBOUND_PLACED = "quality.hold.placed"
OUTBOUND_RELEASED = "quality.hold.released"


class LotOnHoldError(UserError):
    """A held lot was about to be consumed, shipped or taken out of quarantine.

    ``reason_code`` lets the integration engine file it as a business exception when the
    attempt comes from an event (an MES consumption, a WMS shipment).
    """

    reason_code = "lot_on_hold"


class MfgQualityHold(models.Model):
    _name = "mfg.quality.hold"
    _description = "Quality Hold"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "placed_at desc, id desc"

    name = fields.Char(required=True, readonly=True, copy=False, default=lambda self: _("New"))
    lot_id = fields.Many2one(
        "stock.lot", string="Lot/Serial", required=True, index=True, tracking=True
    )
    product_id = fields.Many2one(related="lot_id.product_id", store=True, index=True)
    company_id = fields.Many2one(related="lot_id.company_id", store=True)
    state = fields.Selection(
        [
            ("held", "Held"),
            ("released", "Released"),
            ("scrapped", "Scrapped"),
            ("reworked", "Reworked"),
            ("returned", "Returned to Supplier"),
        ],
        default="held",
        required=True,
        index=True,
        tracking=True,
        readonly=True,
    )
    reason = fields.Text(required=True, tracking=True)
    ncr_id = fields.Many2one("mfg.quality.ncr", string="NCR", index=True, tracking=True)
    check_ids = fields.One2many("mfg.quality.check", "hold_id", string="Failed Checks")
    placed_by_id = fields.Many2one(
        "res.users", string="Placed By", default=lambda self: self.env.user, readonly=True
    )
    placed_at = fields.Datetime(
        default=fields.Datetime.now, required=True, readonly=True, index=True
    )
    system_id = fields.Many2one(
        "mfg.integration.system",
        string="Placed By System",
        readonly=True,
        help="The external system whose event placed the hold (empty: placed in Odoo).",
    )
    released_by_id = fields.Many2one("res.users", string="Released By", readonly=True)
    released_at = fields.Datetime(readonly=True)
    release_decided_at = fields.Datetime(
        readonly=True,
        help="When the release was decided: the quality system's time for a release it "
        "sent, else when it was released in Odoo. A hold request made before it is stale.",
    )
    release_note = fields.Text(readonly=True)
    quantity = fields.Float(
        string="Quantity Held",
        digits="Product Unit of Measure",
        readonly=True,
        help="What was on hand of the lot in the warehouse when the hold was placed.",
    )
    uom_id = fields.Many2one(related="product_id.uom_id", string="Unit")
    move_ids = fields.One2many(
        "stock.move", "mfg_quality_hold_id", string="Quarantine Moves", readonly=True
    )
    correlation_id = fields.Char(
        readonly=True,
        copy=False,
        index=True,
        help="Carried by every event about this hold, inbound and outbound.",
    )
    outbound_event_ids = fields.Many2many(
        "mfg.integration.event",
        compute="_compute_outbound_events",
        string="Delivery to Systems",
    )
    delivery_summary = fields.Char(compute="_compute_outbound_events")
    integration_event_count = fields.Integer(compute="_compute_outbound_events")
    age_days = fields.Integer(string="Age (days)", compute="_compute_age_days")

    _sql_constraints = [
        ("name_uniq", "unique(name)", "The hold's reference must be unique."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code("mfg.quality.hold") or "/"
            vals.setdefault("correlation_id", str(uuid.uuid4()))
        holds = super().create(vals_list)
        if not self.env.context.get("mfg_quality_placing"):
            # a hold a person created on the form: enforced like any other
            for hold in holds:
                hold._start(_("Placed by %s", self.env.user.name))
        return holds

    @api.constrains("lot_id", "state")
    def _check_one_hold_in_force(self):
        for hold in self.filtered(lambda h: h.state == "held"):
            others = self.search_count(
                [("lot_id", "=", hold.lot_id.id), ("state", "=", "held"), ("id", "!=", hold.id)]
            )
            if others:
                raise ValidationError(
                    _(
                        "Lot %(lot)s is already on hold: add the new reason to its hold.",
                        lot=hold.lot_id.display_name,
                    )
                )

    @api.depends("placed_at", "released_at")
    def _compute_age_days(self):
        now = fields.Datetime.now()
        for hold in self:
            end = hold.released_at or now
            hold.age_days = (end - hold.placed_at).days if hold.placed_at else 0

    def _integration_event_domain(self):
        return [
            "|",
            "|",
            ("correlation_id", "in", [c for c in self.mapped("correlation_id") if c]),
            ("id", "in", self.check_ids.event_id.ids),
            "&",
            ("result_model", "=", self._name),
            ("result_res_id", "in", self.ids),
        ]

    def _compute_outbound_events(self):
        Event = self.env["mfg.integration.event"]
        if not Event.has_access("read"):
            self.outbound_event_ids = Event
            self.delivery_summary = False
            self.integration_event_count = 0
            return
        for hold in self:
            events = Event.search(hold._integration_event_domain(), order="id")
            outbound = events.filtered(lambda e: e.direction == "outbound")
            hold.outbound_event_ids = outbound
            hold.integration_event_count = len(events)
            delivered = outbound.filtered(lambda e: e.state == "done").system_id
            pending = outbound.filtered(lambda e: e.state != "done").system_id
            parts = []
            if delivered:
                parts.append(_("delivered to %s", ", ".join(delivered.mapped("name"))))
            if pending:
                parts.append(_("pending for %s", ", ".join(pending.mapped("name"))))
            hold.delivery_summary = "; ".join(parts) or _("no system subscribed")

    # -- placing a hold -----------------------------------------------------------------

    @api.model
    def _place(self, lot, reason, origin=None, event=None, ncr=None, decided_at=None):
        """Hold ``lot``: its stock goes to quarantine and every subscribed system hears it.

        A lot already held keeps its one hold; the new reason is noted on it. A request
        decided (``decided_at``) before a release of the lot was decided is stale (sent
        again, or overtaken by the release): noted on the released hold, nothing else.
        """
        lot.ensure_one()
        existing = self.search([("lot_id", "=", lot.id), ("state", "=", "held")], limit=1)
        if existing:
            existing.message_post(
                body=_("Hold requested again: %(reason)s", reason=reason),
            )
            if ncr and not existing.ncr_id:
                existing.ncr_id = ncr
            return existing
        if decided_at:
            overtaken = self.search(
                [
                    ("lot_id", "=", lot.id),
                    ("state", "!=", "held"),
                    ("release_decided_at", ">=", decided_at),
                ],
                order="release_decided_at desc",
                limit=1,
            )
            if overtaken:
                overtaken.message_post(
                    body=_(
                        "A hold request of %(when)s came after this release was decided "
                        "at %(released)s, which covers it: the lot stays released (%(reason)s).",
                        when=decided_at,
                        released=overtaken.release_decided_at,
                        reason=reason,
                    )
                )
                return overtaken
        values = {"lot_id": lot.id, "reason": reason, "ncr_id": ncr.id if ncr else False}
        if event:
            values["system_id"] = event.system_id.id
            if event.correlation_id:
                values["correlation_id"] = event.correlation_id
        hold = self.with_context(mfg_quality_placing=True).create(values)
        origin_text = origin and origin.display_name
        hold._start(_("by %s", origin_text) if origin_text else "", event=event)
        return hold

    def _start(self, origin_text, event=None):
        """Enforce a new hold: chatter on the hold and the lot, quarantine, every system."""
        self.ensure_one()
        self.message_post(
            body=_(
                "Lot %(lot)s put on hold %(origin)s: %(reason)s",
                lot=self.lot_id.display_name,
                origin=origin_text,
                reason=self.reason,
            )
        )
        self.lot_id.message_post(
            body=_("Put on hold (%(hold)s): %(reason)s", hold=self.name, reason=self.reason)
        )
        self._quarantine()
        self._emit(OUTBOUND_PLACED, causation=event)

    def _quarantine(self):
        """Unreserve the lot everywhere it was reserved and move its warehouse stock to the
        warehouse's quarantine location; the moves are linked to the hold."""
        self.ensure_one()
        lot = self.lot_id
        lines = self.env["stock.move.line"].search(
            [("lot_id", "=", lot.id), ("state", "not in", ("done", "cancel"))]
        )
        moves = lines.move_id
        for move in moves:
            reference = move.raw_material_production_id or move.picking_id
            if reference:
                reference.message_post(
                    body=_(
                        "Lot %(lot)s went on hold (%(hold)s): its reservation was removed.",
                        lot=lot.display_name,
                        hold=self.name,
                    )
                )
        lines.with_context(mfg_quality_transfer=True).unlink()
        quants = self.env["stock.quant"].search(
            [
                ("lot_id", "=", lot.id),
                ("location_id.usage", "=", "internal"),
                ("location_id.mfg_quarantine", "=", False),
                ("quantity", ">", 0),
            ]
        )
        quarantined = self.env["stock.move"]
        for quant in quants:
            quarantine = quant.location_id._mfg_quarantine_location()
            quarantined |= self._transfer(quant, quarantine, _("Quarantine: %s", self.name))
        self.quantity = sum(quarantined.mapped("quantity"))
        if quarantined:
            self.message_post(
                body=_(
                    "%(qty)s %(uom)s moved to quarantine (%(locations)s).",
                    qty=self.quantity,
                    uom=self.uom_id.name,
                    locations=", ".join(quarantined.location_dest_id.mapped("complete_name")),
                )
            )
        else:
            self.message_post(body=_("No stock of the lot on hand in a warehouse to move."))
        # reserve other lots for what lost its reservation
        moves.filtered(lambda m: m.state not in ("done", "cancel"))._action_assign()
        return quarantined

    def _transfer(self, quant, destination, message):
        """Move ``quant`` whole to ``destination`` with a done move linked to this hold."""
        values = quant.with_context(inventory_name=message)._get_inventory_move_values(
            quant.quantity, quant.location_id, destination, quant.package_id, quant.package_id
        )
        values["mfg_quality_hold_id"] = self.id
        values["is_inventory"] = False
        move = self.env["stock.move"].with_context(mfg_quality_transfer=True).sudo().create(values)
        move._action_done()
        return move

    def _quarantined_quants(self):
        self.ensure_one()
        return self.env["stock.quant"].search(
            [
                ("lot_id", "=", self.lot_id.id),
                ("location_id.mfg_quarantine", "=", True),
                ("quantity", ">", 0),
            ]
        )

    # -- ending a hold ------------------------------------------------------------------

    def action_release(self):
        for hold in self:
            hold._release("use_as_is")
        return True

    def action_rework(self):
        for hold in self:
            hold._release("rework")
        return True

    def action_scrap(self):
        for hold in self:
            hold._release("scrap")
        return True

    def _release(self, disposition, note=None, event=None):
        """End the hold by ``disposition``: use as is and rework give the stock back to the
        warehouse, scrap scraps it from quarantine, return keeps it in quarantine for the
        return to the supplier."""
        self.ensure_one()
        if self.state != "held":
            raise UserError(
                _(
                    "Hold %(hold)s is already %(state)s.",
                    hold=self.name,
                    state=dict(self._fields["state"].selection)[self.state],
                )
            )
        self.write(
            {
                "state": DISPOSITION_STATES[disposition],
                "released_by_id": self.env.uid,
                "released_at": fields.Datetime.now(),
                "release_decided_at": (event and event.occurred_at) or fields.Datetime.now(),
                "release_note": note or False,
            }
        )
        self.lot_id.message_post(
            body=_(
                "Hold %(hold)s ended: %(state)s.",
                hold=self.name,
                state=dict(self._fields["state"].selection)[self.state],
            )
        )
        quants = self._quarantined_quants()
        if disposition in ("use_as_is", "rework"):
            moved = self.env["stock.move"]
            for quant in quants:
                moved |= self._transfer(
                    quant, quant.location_id._mfg_release_location(), _("Release: %s", self.name)
                )
            if moved:
                self.message_post(
                    body=_(
                        "Released (%(disposition)s): %(qty)s %(uom)s moved back to "
                        "%(locations)s.",
                        disposition=disposition,
                        qty=sum(moved.mapped("quantity")),
                        uom=self.uom_id.name,
                        locations=", ".join(moved.location_dest_id.mapped("complete_name")),
                    )
                )
            else:
                self.message_post(body=_("Released (%s): nothing was in quarantine.", disposition))
        elif disposition == "scrap":
            scraps = self._scrap(quants)
            self.message_post(
                body=_(
                    "Scrapped: %(qty)s %(uom)s (%(scraps)s).",
                    qty=sum(scraps.mapped("scrap_qty")),
                    uom=self.uom_id.name,
                    scraps=", ".join(scraps.mapped("name")) or _("nothing in quarantine"),
                )
            )
        else:
            self.message_post(
                body=_("To be returned to the supplier: the stock stays in quarantine.")
            )
        self._emit(OUTBOUND_RELEASED, causation=event, disposition=disposition)
        return True

    def _scrap(self, quants):
        scraps = self.env["stock.scrap"]
        for quant in quants:
            scrap = (
                self.env["stock.scrap"]
                .with_context(mfg_quality_transfer=True)
                .create(
                    {
                        "product_id": quant.product_id.id,
                        "product_uom_id": quant.product_id.uom_id.id,
                        "lot_id": quant.lot_id.id,
                        "scrap_qty": quant.quantity,
                        "location_id": quant.location_id.id,
                        "company_id": quant.company_id.id,
                        "origin": self.ncr_id.name or self.name,
                    }
                )
            )
            scrap.do_scrap()
            scraps |= scrap
        return scraps

    # -- telling the other systems ------------------------------------------------------

    def _emit(self, contract_code, causation=None, disposition=None):
        """One outbound event to every system subscribed to ``contract_code`` (the MES: do
        not consume; SAP: blocked stock by movement type 344 / 343; any other)."""
        self.ensure_one()
        contract = self.env["mfg.integration.contract"]._active_outbound(contract_code)
        if not contract:
            return self.env["mfg.integration.event"]
        facts = self._message_facts(disposition)
        builder = hold_messages.BUILDERS[contract_code]
        events = (
            self.env["mfg.integration.event"]
            .sudo()
            ._emit_many(
                contract_code,
                [
                    {
                        "data": builder(facts),
                        "subject": self.lot_id.name,
                        "correlation_id": self.correlation_id,
                        "causation_id": causation.event_uid if causation else None,
                    }
                ],
            )
        )
        self.invalidate_recordset(["outbound_event_ids", "delivery_summary"])
        if events:
            self.message_post(
                body=_(
                    "%(contract)s sent to %(systems)s.",
                    contract=contract_code,
                    systems=", ".join(events.system_id.mapped("name")),
                )
            )
        return events

    def _message_facts(self, disposition=None):
        """What the other systems need to know of this hold, as plain values."""
        self.ensure_one()
        product = self.product_id
        stock = {}
        for move in self.move_ids.filtered(lambda m: m.state == "done"):
            location = (
                move.location_id if not move.location_id.mfg_quarantine else move.location_dest_id
            )
            warehouse = location.warehouse_id
            key = (warehouse.code or "", location.complete_name)
            if move.location_dest_id.mfg_quarantine:
                stock[key] = stock.get(key, 0.0) + move.quantity
        rounding = product.uom_id.rounding
        return {
            "hold": self.name,
            "lot": self.lot_id.name,
            "product_code": product.default_code or product.display_name,
            "product_name": product.name,
            "uom": product.uom_id.name,
            "reason": self.reason,
            "ncr": self.ncr_id.name or None,
            "placed_at": self.placed_at,
            "released_at": self.released_at,
            "released_by": self.released_by_id.name,
            "disposition": disposition,
            "quantity": self.quantity,
            "stock": [
                {"plant": plant, "storage_location": location, "quantity": qty}
                for (plant, location), qty in sorted(stock.items())
                if not float_is_zero(qty, precision_rounding=rounding)
            ],
        }

    # -- views --------------------------------------------------------------------------

    def action_view_integration_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event"
        )
        action["domain"] = self._integration_event_domain()
        action["context"] = {}
        return action

    def action_view_genealogy(self):
        self.ensure_one()
        return self.lot_id.action_view_genealogy()

    @api.model
    def _check_lots_usable(self, lines, what):
        """Raise LotOnHoldError when one of ``lines`` (move lines) takes a held lot."""
        held = lines.filtered(lambda line: line.lot_id.mfg_on_hold)
        if not held:
            return
        line = held[0]
        hold = self.search([("lot_id", "=", line.lot_id.id), ("state", "=", "held")], limit=1)
        raise LotOnHoldError(
            _(
                "Lot %(lot)s of %(product)s is on hold (%(hold)s: %(reason)s) and cannot be "
                "%(what)s. Release the hold first, or use another lot.",
                lot=line.lot_id.name,
                product=line.product_id.display_name,
                hold=hold.name,
                reason=hold.reason,
                what=what,
            )
        )
