from odoo.addons.mfg_integration_base.services.handler_registry import moot_checks, registry


@registry.handler("mes.workorder.started", major=1)
def handle_workorder_started(env, event):
    """Start the order's work order for the reported operation and machine."""
    data = event.payload
    production = env["mrp.production"]._mes_open_order(data["production_ref"])
    workorder = event._mes_workorder(production, data.get("machine"), data.get("operation"))
    if workorder.state != "progress":
        # the start moves the order's dates: the MES knows, it is not told back
        workorder.with_context(mes_no_change_event=True).button_start()
    return workorder


@moot_checks.check("mes.workorder.started", major=1)
def start_superseded(env, failed_event, later_event):
    """A failed start does not matter once the order's completion came (it finishes the work
    orders)."""
    if later_event.event_type == "mes.production.completed":
        return env._("the order's completion was reported after this start")
    return None
