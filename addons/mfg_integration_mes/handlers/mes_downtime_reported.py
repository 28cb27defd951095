from datetime import timedelta

from odoo import fields

from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("mes.downtime.reported", major=1)
def handle_downtime_reported(env, event):
    """Record a stop reported once it is over: it ends at the event's time and lasted
    duration_min. Keyed on the event, so a retried event records it once."""
    data = event.payload
    workcenter = event._mes_workcenter(data["machine"])
    loss = event._map("loss_reason", data["reason"])
    Productivity = env["mrp.workcenter.productivity"]
    downtime_ref = f"{event.source}/{event.event_uid}"[:255]
    stop = Productivity._downtime_of(event.system_id, downtime_ref)
    if stop:
        return stop
    ended_at = event.occurred_at or fields.Datetime.now()
    stop = Productivity._open_downtime(
        event.system_id,
        downtime_ref,
        workcenter,
        loss,
        ended_at - timedelta(minutes=data["duration_min"]),
        Productivity._report_description(event, downtime_ref),
    )
    stop._end_downtime(ended_at)
    return stop
