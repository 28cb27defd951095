from odoo import _, fields

from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.supply_rules import utc_naive


@registry.handler("supplier.shipment.notified", major=1)
def handle_shipment_notified(env, event):
    """Prepare the order's open receipt from the supplier's shipment notice: expected
    quantities and lots, carrier reference, arrival. The receipt is not validated: the
    warehouse does that when the goods are in, and a difference then is an exception.

    The notice of a shipment already received changes nothing; a newer notice of the same
    shipment replaces the older one, an older one arriving late is ignored.
    """
    data = event.payload
    order = event._procurement_order(data["po_ref"])
    shipment_ref = data["shipment_ref"]
    received = order.picking_ids.filtered(
        lambda p: p.state == "done" and shipment_ref in (p.asn_shipments or {})
    )
    if received:
        return received[0]
    lines = [(event._procurement_line(order, line), line) for line in data["lines"]]
    moves = order._procurement_notice_receipt_moves([line for line, _data in lines])
    missing = [line for line, _data in lines if line not in moves]
    if missing:
        raise BusinessError(
            "nothing_to_receive",
            _(
                "Purchase order %(ref)s has no open receipt for %(products)s of shipment "
                "%(shipment)s",
                ref=order.name,
                products=", ".join(missing[0].product_id.mapped("display_name")),
                shipment=shipment_ref,
            ),
            suggested_action=_(
                "Check the order's receipts (already received, or cancelled?) and the "
                "supplier's notice; correct the order or discard this event."
            ),
            key_fields={"order": order.name, "shipment": shipment_ref},
        )
    stamp = event._procurement_stamp()
    arrival = utc_naive(data.get("expected_arrival"))
    by_picking = {}
    for line, line_data in lines:
        move = moves[line]
        by_picking.setdefault(move.picking_id, []).append(
            {
                "move_id": move.id,
                "qty": line.product_uom._compute_quantity(line_data["qty"], move.product_uom),
                "lot": line_data.get("lot") or None,
            }
        )
    for picking, shipment_lines in by_picking.items():
        picking._procurement_apply_notice(
            event,
            shipment_ref,
            {
                "at": fields.Datetime.to_string(stamp),
                "at_datetime": stamp,
                "event_id": event.id,
                "carrier_ref": data.get("carrier_ref"),
                "expected_arrival": fields.Datetime.to_string(arrival) if arrival else None,
                "lines": shipment_lines,
            },
        )
    order.order_line.browse([line.id for line, _data in lines])._procurement_check_shortages()
    return next(iter(by_picking))
