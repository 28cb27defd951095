from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("cmms.part.reserved", major=1)
def handle_part_reserved(env, event):
    """Reserve the part for the work order's request (internal transfer to the maintenance
    location with reserved quants), keyed on the reservation reference."""
    event = event._cmms_origin()
    data = event.payload
    request = event._cmms_request(data["workorder_ref"])
    part = event._cmms_part(data["part_code"])
    reference = data.get("reservation_ref") or f"{event.source}/{event.event_uid}"
    moves = request._cmms_reserve_part(part, data["qty"], reference[:255])
    return moves.picking_id[:1] or moves
