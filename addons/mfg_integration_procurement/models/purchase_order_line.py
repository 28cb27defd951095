from odoo import _, api, fields, models
from odoo.tools import format_datetime

from ..services import supply_rules

SUPPLIER_STATES = [
    ("confirmed", "Confirmed"),
    ("partial", "Partially Confirmed"),
    ("refused", "Refused"),
    ("rejected", "Rejected"),
]


class PurchaseOrderLine(models.Model):
    _inherit = "purchase.order.line"

    supplier_state = fields.Selection(
        SUPPLIER_STATES, string="Supplier Status", readonly=True, copy=False, index=True
    )
    supplier_confirmed_qty = fields.Float(
        string="Confirmed Qty",
        digits="Product Unit of Measure",
        readonly=True,
        copy=False,
        help="What the supplier confirmed it will deliver, in the line's unit.",
    )
    supplier_confirmed_date = fields.Datetime(string="Confirmed Arrival", readonly=True, copy=False)
    supplier_confirmed_price = fields.Float(
        string="Confirmed Price", digits="Product Price", readonly=True, copy=False
    )
    supplier_requested_date = fields.Datetime(
        string="Requested Arrival",
        readonly=True,
        copy=False,
        help="The arrival the buyer asked for, before the supplier's first confirmation.",
    )
    supplier_reject_reason = fields.Char(string="Rejection Reason", readonly=True, copy=False)
    supplier_update_at = fields.Datetime(
        string="Supplier Statement Time",
        readonly=True,
        copy=False,
        help="When the supplier made the statement applied last: an older one arriving late "
        "changes nothing.",
    )
    supplier_deviation = fields.Text(string="Deviations", readonly=True, copy=False)
    has_supplier_deviation = fields.Boolean(
        string="Supplier Deviates", readonly=True, copy=False, index=True
    )
    shortage_ids = fields.One2many("mfg.procurement.shortage", "purchase_line_id")

    def _procurement_is_stale(self, stamp):
        """True when the supplier already said something newer about this line."""
        self.ensure_one()
        return bool(self.supplier_update_at and stamp < self.supplier_update_at)

    def _procurement_apply_confirmation(self, stamp, quantity, date, price):
        """Record the supplier's confirmation of this line and flag what deviates."""
        self.ensure_one()
        if quantity <= 0:
            state = "refused"
        elif quantity < self.product_qty:
            state = "partial"
        else:
            state = "confirmed"
        values = {
            "supplier_state": state,
            "supplier_confirmed_qty": quantity,
            "supplier_confirmed_date": date or False,
            "supplier_confirmed_price": price if price is not None else self.price_unit,
            "supplier_reject_reason": False,
            "supplier_update_at": stamp,
        }
        if not self.supplier_requested_date:
            values["supplier_requested_date"] = self.date_planned
        self.write(values)
        if date and self.move_ids.filtered(lambda m: m.state not in ("done", "cancel")):
            # Odoo's own supplier date change: the line's date and its receipt's deadline
            self._update_date_planned(date)
        self._procurement_flag_deviations(price)

    def _procurement_apply_rejection(self, stamp, reason):
        self.write(
            {
                "supplier_state": "rejected",
                "supplier_reject_reason": reason,
                "supplier_update_at": stamp,
                "has_supplier_deviation": True,
                "supplier_deviation": _("Rejected by the supplier: %(reason)s", reason=reason),
            }
        )

    def _procurement_flag_deviations(self, price):
        for line in self:
            found = supply_rules.deviations(
                line.product_qty,
                line.supplier_confirmed_qty,
                line.supplier_requested_date,
                line.supplier_confirmed_date,
                line.price_unit,
                price,
            )
            texts = []
            unit = line.product_uom.name
            for kind, ordered, confirmed in found:
                if kind == "qty":
                    texts.append(
                        _(
                            "Quantity: %(confirmed)s %(unit)s confirmed, %(ordered)s ordered",
                            confirmed=confirmed,
                            ordered=ordered,
                            unit=unit,
                        )
                    )
                elif kind == "date":
                    texts.append(
                        _(
                            "Arrival: %(confirmed)s confirmed, %(ordered)s requested",
                            confirmed=format_datetime(self.env, confirmed),
                            ordered=format_datetime(self.env, ordered),
                        )
                    )
                else:
                    texts.append(
                        _(
                            "Price: %(confirmed)s confirmed, %(ordered)s ordered",
                            confirmed=confirmed,
                            ordered=ordered,
                        )
                    )
            line.write(
                {"has_supplier_deviation": bool(texts), "supplier_deviation": "\n".join(texts)}
            )

    def _procurement_supply(self):
        """What this line still brings, in the product's unit (see supply_rules)."""
        self.ensure_one()
        to_product = self.product_uom._compute_quantity
        unit = self.product_id.uom_id
        pending = self.move_ids.filtered(
            lambda m: m.state not in ("done", "cancel") and m.location_dest_id.usage != "supplier"
        )
        incoming = sum(m.product_qty for m in pending)
        promised = None
        if self.supplier_state in ("confirmed", "partial", "refused"):
            promised = to_product(self.supplier_confirmed_qty, unit)
        notices = pending.picking_id._procurement_notice_arrivals(self)
        arrival = max(notices) if notices else (self.supplier_confirmed_date or self.date_planned)
        return supply_rules.LineSupply(
            ordered=to_product(self.product_qty, unit),
            received=to_product(self.qty_received, unit),
            incoming=incoming,
            promised=promised,
            rejected=self.supplier_state == "rejected",
            arrival=arrival,
        )

    def _procurement_needs(self):
        """{product: [Need]}: the open manufacturing orders' component moves not covered by
        reserved stock, for the products of these lines (one query)."""
        moves = self.env["stock.move"].search(
            [
                ("product_id", "in", self.product_id.ids),
                ("raw_material_production_id.state", "in", ("confirmed", "progress", "to_close")),
                ("state", "not in", ("assigned", "done", "cancel")),
            ]
        )
        needs = {}
        for move in moves:
            reserved = move.product_uom._compute_quantity(move.quantity, move.product_id.uom_id)
            open_qty = move.product_qty - reserved
            if open_qty <= 0:
                continue
            needs.setdefault(move.product_id, []).append(
                supply_rules.Need(
                    move.raw_material_production_id.id,
                    move.raw_material_production_id.date_start,
                    open_qty,
                )
            )
        return needs

    def _procurement_check_shortages(self):
        """Open, update or close the shortage of each line from its current supply."""
        lines = self.filtered(lambda line: line.product_id and not line.display_type)
        if not lines:
            return
        needs = lines._procurement_needs()
        Shortage = self.env["mfg.procurement.shortage"].sudo()
        open_shortages = Shortage.search(
            [("purchase_line_id", "in", lines.ids), ("state", "=", "open")]
        )
        by_line = {shortage.purchase_line_id: shortage for shortage in open_shortages}
        for line in lines:
            gap = None
            if line.order_id.state in ("purchase", "done"):
                gap = supply_rules.shortage_gap(
                    line._procurement_supply(),
                    needs.get(line.product_id, []),
                    line.product_id.uom_id.rounding,
                )
            Shortage._sync_line(line, gap, by_line.get(line))

    @api.model
    def _cron_check_shortages(self):
        """Re-check the lines with an open shortage: rescheduled, cancelled or supplied
        orders close theirs."""
        self.env["mfg.procurement.shortage"].search(
            [("state", "=", "open")]
        ).purchase_line_id._procurement_check_shortages()
