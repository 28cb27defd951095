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
    Stops begin and end at the machine's time; a stop state that arrives after a later
    state was applied records the stop it missed, up to that later state.
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
    Productivity = env["mrp.workcenter.productivity"]
    if Productivity._stop_at(workcenter, occurred_at):
        return workcenter  # a repeated state: the stop is known
    changed_at = next_status_change(event)
    loss = event._map("loss_reason", data["state"])
    stop = Productivity.create(
        {
            "workcenter_id": workcenter.id,
            "loss_id": loss.id,
            "company_id": workcenter.company_id.id,
            "date_start": occurred_at,
            # a stop reported late ends where the next state Odoo already applied begins
            "date_end": changed_at or False,
            "description": f"{data['state']} reported by {event.system_id.name} "
            f"(event {event.event_uid})",
        }
    )
    stop._open_breakdown_request()
    stop._record_request_duration()
    return workcenter


def next_status_change(event):
    """When the machine's next state began, if that later status arrived and was applied
    before this one (a late message); None otherwise."""
    if not event.occurred_at or not event.subject:
        return None
    later = event.env["mfg.integration.event"].search(
        [
            ("system_id", "=", event.system_id.id),
            ("subject", "=", event.subject),
            ("event_type", "=", event.event_type),
            ("direction", "=", "inbound"),
            ("state", "=", "done"),
            ("occurred_at", ">", event.occurred_at),
        ],
        order="occurred_at, id",
        limit=50,
    )
    machine = event.payload["machine"]
    return next(
        (other.occurred_at for other in later if (other.payload or {}).get("machine") == machine),
        None,
    )
