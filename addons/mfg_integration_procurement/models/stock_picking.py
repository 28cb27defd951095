import logging

from odoo import _, fields, models
from odoo.tools import float_compare, float_is_zero

from ..services import supply_rules

_logger = logging.getLogger(__name__)

GOODS_RECEIVED = "procurement.goods.received"


class StockPicking(models.Model):
    _inherit = "stock.picking"

    asn_shipments = fields.Json(
        string="Shipment Notices",
        readonly=True,
        copy=False,
        help="The supplier's notices of this receipt, by shipment number: time, carrier, "
        "expected arrival and lines (move, quantity in the move's unit, lot).",
    )
    asn_shipment_refs = fields.Char(string="Shipments", readonly=True, copy=False, index=True)
    asn_carrier_ref = fields.Char(string="Carrier Reference", readonly=True, copy=False)
    asn_expected_arrival = fields.Datetime(string="Notified Arrival", readonly=True, copy=False)
    asn_system_id = fields.Many2one(
        "mfg.integration.system", string="Notified By", readonly=True, copy=False
    )
    asn_event_id = fields.Many2one(
        "mfg.integration.event", string="Last Notice", readonly=True, copy=False
    )

    def _procurement_notice_arrivals(self, purchase_line):
        """Arrivals the notices of these receipts announce for ``purchase_line``."""
        arrivals = []
        moves = set(purchase_line.move_ids.ids)
        for picking in self:
            for shipment in (picking.asn_shipments or {}).values():
                if shipment.get("expected_arrival") and any(
                    line["move_id"] in moves for line in shipment["lines"]
                ):
                    arrivals.append(fields.Datetime.to_datetime(shipment["expected_arrival"]))
        return arrivals

    def _procurement_apply_notice(self, event, shipment_ref, shipment):
        """Record one shipment's notice on this receipt (a newer notice of the same
        shipment replaces it; an older one arriving late changes nothing) and prepare the
        receipt from every notice it holds."""
        self.ensure_one()
        shipments = dict(self.asn_shipments or {})
        known = shipments.get(shipment_ref)
        if known and fields.Datetime.to_datetime(known["at"]) > shipment["at_datetime"]:
            _logger.info(
                "Notice %s of shipment %s is older than the one applied: ignored",
                event.event_uid,
                shipment_ref,
            )
            return False
        shipments[shipment_ref] = {
            key: value for key, value in shipment.items() if key != "at_datetime"
        }
        arrivals = [s["expected_arrival"] for s in shipments.values() if s.get("expected_arrival")]
        values = {
            "asn_shipments": shipments,
            "asn_shipment_refs": ", ".join(sorted(shipments)),
            "asn_carrier_ref": ", ".join(
                sorted({s["carrier_ref"] for s in shipments.values() if s.get("carrier_ref")})
            )
            or False,
            "asn_system_id": event.system_id.id,
            "asn_event_id": event.id,
        }
        if arrivals:
            values["asn_expected_arrival"] = max(fields.Datetime.to_datetime(a) for a in arrivals)
            values["scheduled_date"] = values["asn_expected_arrival"]
        self.write(values)
        self._procurement_prepare_from_notices()
        return True

    def _procurement_prepare_from_notices(self):
        """Expected quantities and lots on the receipt's moves, not yet picked: the
        warehouse checks them against the goods and validates."""
        self.ensure_one()
        expected = {}
        for shipment in (self.asn_shipments or {}).values():
            for line in shipment["lines"]:
                expected.setdefault(line["move_id"], []).append(line)
        for move in self.move_ids.filtered(lambda m: m.state not in ("done", "cancel")):
            lines = expected.get(move.id, [])
            move.asn_qty = sum(line["qty"] for line in lines)
            if not lines:
                continue
            move.move_line_ids.filtered(lambda ml: not ml.picked).unlink()
            lots = {}
            for line in lines:
                lots[line.get("lot") or False] = lots.get(line.get("lot") or False, 0) + line["qty"]
            tracked = move.product_id.tracking != "none"
            self.env["stock.move.line"].create(
                [
                    {
                        "move_id": move.id,
                        "picking_id": self.id,
                        "product_id": move.product_id.id,
                        "product_uom_id": move.product_uom.id,
                        "location_id": move.location_id.id,
                        "location_dest_id": move.location_dest_id.id,
                        "quantity": quantity,
                        "lot_name": lot if tracked and lot else False,
                        "company_id": move.company_id.id,
                    }
                    for lot, quantity in lots.items()
                ]
            )

    def _action_done(self):
        result = super()._action_done()
        receipts = self.filtered(
            lambda p: p.state == "done" and p.picking_type_code == "incoming" and p.purchase_id
        )
        if receipts:
            receipts._procurement_check_notices()
            receipts._procurement_emit_received()
            receipts.move_ids.purchase_line_id._procurement_check_shortages()
        return result

    def _procurement_check_notices(self):
        """A planner's exception for each received quantity that differs from the shipment
        notice beyond the tolerance (the receipt itself stands: the goods are here)."""
        percent = supply_rules.tolerance_percent(
            self.env["ir.config_parameter"].sudo().get_param(supply_rules.RECEIPT_TOLERANCE_PARAM)
        )
        Exception_ = self.env["mfg.integration.exception"].sudo()
        for picking in self.filtered("asn_shipments"):
            noticed = picking.move_ids.filtered(lambda m: m.asn_qty > 0 or m.quantity > 0)
            by_product = {}
            for move in noticed.filtered(lambda m: m.state in ("done", "cancel")):
                received = move.quantity if move.state == "done" else 0.0
                totals = by_product.setdefault(move.product_id, [0.0, 0.0, move.product_uom])
                totals[0] += move.product_uom._compute_quantity(move.asn_qty, totals[2])
                totals[1] += move.product_uom._compute_quantity(received, totals[2])
            for product, (announced, received, unit) in by_product.items():
                # goods the notices did not announce at all differ from them too
                if float_is_zero(announced + received, precision_rounding=unit.rounding):
                    continue
                if not supply_rules.beyond_tolerance(announced, received, percent, unit.rounding):
                    continue
                picking._procurement_open_difference(
                    Exception_, product, announced, received, unit, percent
                )

    def _procurement_open_difference(self, Exception_, product, announced, received, unit, percent):
        self.ensure_one()
        event = self.asn_event_id
        more = float_compare(received, announced, precision_rounding=unit.rounding) > 0
        message = _(
            "Receipt %(receipt)s of %(order)s: %(received)s %(unit)s of %(product)s received, "
            "the shipment notice (%(shipments)s) announced %(announced)s %(unit)s "
            "(%(difference)s %(unit)s %(direction)s, beyond the %(percent)s%% tolerance)",
            receipt=self.name,
            order=self.purchase_id.name,
            received=received,
            announced=announced,
            unit=unit.name,
            product=product.display_name,
            shipments=self.asn_shipment_refs,
            difference=abs(received - announced),
            direction=_("more") if more else _("less"),
            percent=percent,
        )
        key_fields = {"receipt": self.name, "product": product.default_code or product.name}
        Exception_.with_context(mail_create_nolog=True, mail_create_nosubscribe=True).create(
            {
                "name": message,
                "event_id": event.id,
                "system_id": self.asn_system_id.id,
                "contract_id": event.contract_id.id,
                "subject": self.purchase_id.name,
                "correlation_id": event.correlation_id,
                "category": "business",
                "reason_code": "receipt_differs_from_notice",
                "suggested_action": _(
                    "Count the goods again. If the count is right, claim the difference with "
                    "the supplier (or return the extra goods), then resolve this exception."
                ),
                "details": _(
                    "Announced: %(announced)s %(unit)s\nReceived: %(received)s %(unit)s",
                    announced=announced,
                    received=received,
                    unit=unit.name,
                ),
                "key_fields": key_fields,
                "fingerprint": Exception_._fingerprint(
                    event.contract_id, "receipt_differs_from_notice", key_fields
                ),
                "severity": "medium",
            }
        )

    def _procurement_emit_received(self):
        """Goods received, to every system subscribed to the contract (a supplier portal,
        and the financial system of record that books its goods movement)."""
        contract = self.env["mfg.integration.contract"]._active_outbound(GOODS_RECEIVED)
        if not contract:
            return self.env["mfg.integration.event"]
        items = [
            {"data": picking._procurement_received_message(), "subject": picking.purchase_id.name}
            for picking in self
        ]
        return self.env["mfg.integration.event"].sudo()._emit_many(GOODS_RECEIVED, items)

    def _procurement_received_message(self):
        self.ensure_one()
        order = self.purchase_id
        positions = {
            line.id: index + 1
            for index, line in enumerate(
                order.order_line.filtered(lambda po_line: not po_line.display_type)
            )
        }
        lines = []
        for move_line in self.move_ids.filtered(lambda m: m.state == "done").move_line_ids:
            move = move_line.move_id
            purchase_line = move.purchase_line_id
            supplier_info = move.product_id._select_seller(
                partner_id=order.partner_id, quantity=None, uom_id=move.product_uom
            )
            lines.append(
                {
                    "po_line": positions.get(purchase_line.id),
                    "product_code": move.product_id.default_code or move.product_id.display_name,
                    "supplier_product_code": supplier_info.product_code or None,
                    "qty": move_line.quantity,
                    "uom": move_line.product_uom_id.name,
                    "lot": move_line.lot_id.name or move_line.lot_name or None,
                    "location": move_line.location_dest_id.complete_name,
                }
            )
        return {
            "po_ref": order.name,
            "receipt_ref": self.name,
            "supplier": order.partner_id.display_name,
            "supplier_ref": order.partner_ref or None,
            "shipment_refs": sorted(self.asn_shipments or {}),
            "company": self.company_id.name,
            "stock_system_of_record": (
                self.env["mfg.integration.record.kind"].sudo()._owner("stock").code or "odoo"
            ),
            "received_at": (self.date_done or fields.Datetime.now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lines": lines,
        }
