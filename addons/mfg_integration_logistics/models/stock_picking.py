from odoo import fields, models

from ..services.logistics_messages import stamp, without_empty


class StockPicking(models.Model):
    _inherit = "stock.picking"

    wms_released_at = fields.Datetime(
        string="Released to WMS",
        copy=False,
        readonly=True,
        help="When Odoo released this delivery to the WMS (wms.delivery.released).",
    )
    wms_shipment_ref = fields.Char(
        string="WMS Shipment",
        copy=False,
        readonly=True,
        index=True,
        help="The WMS's id of the shipment that validated this delivery.",
    )
    wms_carrier = fields.Char(string="Carrier", copy=False)
    wms_tracking_ref = fields.Char(string="Tracking Reference", copy=False)

    def _action_done(self):
        result = super()._action_done()
        self.filtered(
            lambda p: p.state == "done" and p.picking_type_code == "outgoing"
        )._crm_send_delivery_status()
        return result

    def _wms_release_ready(self):
        """Release to the WMS the deliveries that just became ready, once each."""
        ready = self.filtered(
            lambda p: p.picking_type_code == "outgoing"
            and p.state == "assigned"
            and not p.wms_released_at
        )
        if not ready:
            return
        Event = self.env["mfg.integration.event"]
        for system in Event._logistics_destinations("wms.delivery.released"):
            items = [
                {"data": picking._wms_release_data(system), "subject": picking.name}
                for picking in ready
            ]
            if Event._logistics_emit("wms.delivery.released", items, systems=system):
                ready.sudo().wms_released_at = fields.Datetime.now()

    def _wms_release_data(self, system):
        """wms.delivery.released data, in the codes ``system`` knows."""
        self.ensure_one()
        Event = self.env["mfg.integration.event"]
        partner = self.partner_id
        lines = []
        for move in self.move_ids.filtered(lambda m: m.state not in ("done", "cancel")):
            lots = {}
            for line in move.move_line_ids.filtered("lot_id"):
                quantity = line.product_uom_id._compute_quantity(line.quantity, move.product_uom)
                lots[line.lot_id.name] = lots.get(line.lot_id.name, 0.0) + quantity
            lines.append(
                without_empty(
                    {
                        "product_code": Event._logistics_code(
                            system,
                            "product",
                            move.product_id,
                            move.product_id.default_code or move.product_id.display_name,
                        ),
                        "product_name": move.product_id.name,
                        "qty": move.product_uom_qty,
                        "uom": Event._logistics_code(
                            system, "uom", move.product_uom, move.product_uom.name
                        ),
                        "lots": [{"lot": lot, "qty": qty} for lot, qty in lots.items()] or None,
                    }
                )
            )
        sale = self.sale_id
        return without_empty(
            {
                "delivery_ref": self.name,
                "origin": self.origin,
                "order_id": sale.crm_order_ref if sale else None,
                "from_location": Event._logistics_code(
                    system, "location", self.location_id, self.location_id.complete_name
                ),
                "requested_date": stamp(
                    (sale and sale.commitment_date) or self.date_deadline or self.scheduled_date
                ),
                "ship_to": without_empty(
                    {
                        "name": partner.display_name or self.company_id.name,
                        "customer_code": Event._logistics_code(
                            system, "partner", partner.commercial_partner_id, partner.ref
                        )
                        if partner
                        else None,
                        "street": partner.street,
                        "street2": partner.street2,
                        "zip": partner.zip,
                        "city": partner.city,
                        "state": partner.state_id.code,
                        "country": partner.country_id.code,
                    }
                ),
                "lines": lines,
            }
        )

    def _crm_send_delivery_status(self):
        """Tell the CRM of each shipped order what left, and whether more follows."""
        Event = self.env["mfg.integration.event"]
        for picking in self:
            sale = picking.sale_id
            if not (sale.crm_order_ref and sale.crm_system_id):
                continue
            system = sale.crm_system_id
            backorders = self.search([("backorder_id", "=", picking.id)])
            still_open = sale.picking_ids.filtered(
                lambda p: p.picking_type_code == "outgoing" and p.state not in ("done", "cancel")
            )
            lines = []
            for move in picking.move_ids.filtered(lambda m: m.state == "done"):
                sale_line = move.sale_line_id
                lots = {}
                for line in move.move_line_ids.filtered("lot_id"):
                    lots[line.lot_id.name] = lots.get(line.lot_id.name, 0.0) + line.quantity
                remaining = (
                    max(sale_line.product_uom_qty - sale_line.qty_delivered, 0.0)
                    if sale_line
                    else None
                )
                lines.append(
                    without_empty(
                        {
                            "line_id": sale_line.crm_line_ref or (sale_line and str(sale_line.id)),
                            "product_code": Event._logistics_code(
                                system,
                                "product",
                                move.product_id,
                                move.product_id.default_code or move.product_id.display_name,
                            ),
                            "qty_shipped": move.quantity,
                            "qty_remaining": remaining,
                            "uom": Event._logistics_code(
                                system, "uom", move.product_uom, move.product_uom.name
                            ),
                            "lots": [{"lot": lot, "qty": qty} for lot, qty in lots.items()] or None,
                        }
                    )
                )
            data = without_empty(
                {
                    "order_id": sale.crm_order_ref,
                    "sale_ref": sale.name,
                    "delivery_ref": picking.name,
                    "status": "partially_shipped" if still_open else "shipped",
                    "backorder_ref": backorders[:1].name,
                    "carrier": picking.wms_carrier,
                    "tracking_ref": picking.wms_tracking_ref,
                    "shipped_at": stamp(
                        self.env.context.get("wms_shipped_at") or picking.date_done
                    ),
                    "lines": lines,
                }
            )
            Event._logistics_emit(
                "crm.delivery.status",
                [{"data": data, "subject": sale.crm_order_ref}],
                systems=system,
            )
