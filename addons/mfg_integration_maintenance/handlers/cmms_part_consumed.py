from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("cmms.part.consumed", major=1)
def handle_part_consumed(env, event):
    """Post the part used on the work order's request at its cost; under its reorder point,
    the part's reordering rule asks its vendor for a quotation."""
    event = event._cmms_origin()
    data = event.payload
    request = event._cmms_request(data["workorder_ref"])
    part = event._cmms_part(data["part_code"])
    reference = data.get("consumption_ref") or f"{event.source}/{event.event_uid}"
    return request._cmms_consume_part(part, data["qty"], reference[:255])[:1]
