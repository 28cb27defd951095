from odoo import fields

from odoo.addons.mfg_integration_base.services.handler_registry import registry

# Machine states that stop production (the work center is blocked with a loss reason)
# and those that do not (a block in progress ends).
BLOCKING_STATES = {"stopped", "fault"}


@registry.handler("machine.status.changed", major=1)
def handle_machine_status(env, event):
    """Block or unblock the machine's work center, so OEE and planning see the stop.

    The machine code maps to a work center, and a blocking state to a loss reason, through
    the system's mappings: an unmapped code becomes a planner's exception, never a guess.
    """
    data = event.payload
    workcenter = event._map("workcenter", data["machine"])
    blocked = workcenter.working_state == "blocked"
    occurred_at = event.occurred_at or fields.Datetime.now()
    if data["state"] not in BLOCKING_STATES:
        if blocked:
            # closed at the machine's time, not Odoo's: OEE availability counts the real stop
            workcenter._end_stops(occurred_at)
        return workcenter
    if blocked:
        return workcenter
    loss = event._map("loss_reason", data["state"])
    stop = env["mrp.workcenter.productivity"].create(
        {
            "workcenter_id": workcenter.id,
            "loss_id": loss.id,
            "company_id": workcenter.company_id.id,
            "date_start": occurred_at,
            "description": f"{data['state']} reported by {event.system_id.name} "
            f"(event {event.event_uid})",
        }
    )
    stop._open_breakdown_request()
    return workcenter
