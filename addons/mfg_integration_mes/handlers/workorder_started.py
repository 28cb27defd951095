from odoo import fields

from odoo.addons.mfg_integration_base.services.errors import PrerequisiteMissing
from odoo.addons.mfg_integration_base.services.handler_registry import moot_checks, registry


@registry.handler("mes.workorder.started", major=1)
def handle_workorder_started(env, event):
    """Start the order's work order for the reported operation and machine.

    The MES runs the operation, so the machine runs: a stop Odoo still has open on its work
    center (a machine status or a stop whose end has not arrived) ends when the work order
    started. A stop that began after that start (its message came first) keeps the start
    waiting until the stop ends; only a stop that never ends makes it a planner's exception.
    """
    data = event.payload
    production = env["mrp.production"]._mes_open_order(data["production_ref"])
    if not production.workorder_ids and not data.get("machine") and not data.get("operation"):
        # an order without a routing (e.g. one SAP created without operations): the MES's
        # start is a fact Odoo keeps on the event; there is no work order to start
        return production
    workorder = event._mes_workorder(production, data.get("machine"), data.get("operation"))
    if workorder.state == "progress":
        return workorder
    workcenter = workorder.workcenter_id
    if workcenter.working_state == "blocked":
        started_at = event.occurred_at or fields.Datetime.now()
        workcenter._end_stops(
            started_at,
            note=env._(
                "Ended when %(system)s started %(ref)s (%(operation)s), event %(uid)s.",
                system=event.system_id.name,
                ref=data["production_ref"],
                operation=workorder.name,
                uid=event.event_uid,
            ),
        )
        if workcenter.working_state == "blocked":
            # The stop began after the MES's start: the machine ran, then stopped. Odoo cannot
            # start a work order on a blocked work center, so the start waits (bounded) for
            # the stop's end, which the MES or the machine reports; a stop that never ends
            # becomes a planner's exception after the wait.
            raise PrerequisiteMissing(
                env._(
                    "%(workcenter)s has a stop in Odoo that began after the MES started order "
                    "%(ref)s (%(operation)s) on it at %(time)s UTC: the start waits for the "
                    "stop's end",
                    workcenter=workcenter.display_name,
                    ref=data["production_ref"],
                    operation=workorder.name,
                    time=started_at,
                ),
                key_fields={"order": data["production_ref"], "machine": workcenter.name},
                reason_code="workcenter_blocked",
                suggested_action=env._(
                    "Check the machine's stops on the work center: end the stop if the machine "
                    "ran, then retry; or discard the start if the operation never ran."
                ),
            )
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
