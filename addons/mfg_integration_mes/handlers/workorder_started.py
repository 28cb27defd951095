from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import moot_checks, registry


@registry.handler("mes.workorder.started", major=1)
def handle_workorder_started(env, event):
    """Start the order's work order for the reported operation and machine."""
    data = event.payload
    production = env["mrp.production"]._mes_open_order(data["production_ref"])
    workorders = production.workorder_ids.filtered(lambda w: w.state not in ("done", "cancel"))
    if data.get("machine"):
        workcenter = event._mes_workcenter(data["machine"])
        workorders = workorders.filtered(lambda w: w.workcenter_id == workcenter)
    if data.get("operation"):
        workorders = workorders.filtered(lambda w: w.name == data["operation"])
    if not workorders:
        where = " ".join(
            filter(
                None,
                [
                    data.get("operation") and env._("operation '%s'", data["operation"]),
                    data.get("machine") and env._("on machine %s", data["machine"]),
                ],
            )
        )
        raise BusinessError(
            "operation_unknown",
            env._(
                "Order %(ref)s has no open %(where)s to start",
                ref=data["production_ref"],
                where=where or env._("operation"),
            ),
            suggested_action=env._(
                "Check the order's routing in Odoo (operations and work centers) against the "
                "MES; fix the routing or the event's data, then retry."
            ),
            key_fields={"order": data["production_ref"], "operation": where},
        )
    workorder = workorders[0]
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
