from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.supply_rules import utc_naive


@registry.handler("supplier.po.confirmed", major=1)
def handle_po_confirmed(env, event):
    """Record the supplier's confirmation on the order's lines (confirmed quantity, arrival
    and price; the line's planned date follows), flag deviations, re-check shortages.

    A line the supplier already confirmed later than this statement keeps the newer one:
    duplicated and reordered confirmations end in the same state.
    """
    data = event.payload
    order = event._procurement_order(data["po_ref"])
    stamp = event._procurement_stamp()
    lines = order.order_line.browse()
    for line_data in data["lines"]:
        line = event._procurement_line(order, line_data)
        lines |= line
        if line._procurement_is_stale(stamp):
            continue
        line._procurement_apply_confirmation(
            stamp,
            line_data["confirmed_qty"],
            utc_naive(line_data.get("confirmed_date")),
            line_data.get("price_unit"),
        )
    if data.get("supplier_ref") and not order.partner_ref:
        order.partner_ref = data["supplier_ref"]
    lines._procurement_check_shortages()
    return order
