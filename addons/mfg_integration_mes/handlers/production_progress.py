from odoo.addons.mfg_integration_base.services.handler_registry import moot_checks, registry

# A count is a snapshot: a later count or completion of the same order supersedes it.
SUPERSEDING = ("mes.production.progress", "mes.production.completed")


@registry.handler("mes.production.progress", major=1)
def handle_production_progress(env, event):
    """Record the quantity produced so far on the open order, without closing anything.

    ``qty_done`` counts the whole order as the MES knows it: what earlier completions of its
    chain already closed is not counted again on the backorder.
    """
    data = event.payload
    production = env["mrp.production"]._mes_open_order(data["production_ref"])
    if data.get("machine") or data.get("operation"):
        event._mes_workorder(production, data.get("machine"), data.get("operation"))
    quantity = event._mes_quantity(
        data["qty_done"], data.get("uom"), production.product_uom_id, "The quantity produced"
    )
    chain = production._mes_chain()
    already_closed = sum(chain.filtered(lambda p: p.state == "done").mapped("qty_produced"))
    producing = max(quantity - already_closed, 0.0)
    production._mes_check_overproduction(producing, data["production_ref"])
    # components are left to the completion: lowering their quantities now would drop the
    # lots Odoo reserved for them
    if producing != production.qty_producing:
        production.qty_producing = producing
    return production


@moot_checks.check("mes.production.progress", major=1)
def progress_superseded(env, failed_event, later_event):
    """A failed count does not matter once a later count or completion of the order came."""
    if later_event.event_type in SUPERSEDING:
        return env._("the order's later report supersedes this count")
    return None
