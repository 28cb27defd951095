from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("supplier.po.rejected", major=1)
def handle_po_rejected(env, event):
    """Mark the lines the supplier refuses rejected, ask the buyer to re-source them and
    open shortages for the orders that needed them. The order stays the buyer's to cancel.

    A line the supplier confirmed after this rejection keeps the confirmation.
    """
    data = event.payload
    order = event._procurement_order(data["po_ref"])
    stamp = event._procurement_stamp()
    if data.get("lines"):
        lines = order.order_line.browse()
        for line_data in data["lines"]:
            lines |= event._procurement_line(order, line_data)
    else:
        lines = order.order_line.filtered(lambda line: not line.display_type)
    rejected = lines.filtered(lambda line: not line._procurement_is_stale(stamp))
    if rejected:
        rejected._procurement_apply_rejection(stamp, data["reason"])
        order._procurement_ask_buyer(rejected, data["reason"], event)
    lines._procurement_check_shortages()
    return order
