from datetime import timedelta

from odoo import fields

from odoo.addons.mfg_integration_base.services.errors import BusinessError, PrerequisiteMissing
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.stamps import instant


@registry.handler("mes.downtime.ended", major=1)
def handle_downtime_ended(env, event):
    """Close the stop its start opened, and record the duration on its maintenance request.

    An end whose start never reached Odoo is recorded whole when it carries the reason and
    a start (started_at or duration_min); otherwise it waits for the start, then becomes
    an exception.
    """
    data = event.payload
    downtime_id = data["downtime_id"]
    workcenter = event._mes_workcenter(data["machine"])
    loss = event._map("loss_reason", data["reason"]) if data.get("reason") else None
    try:
        ended_at = instant(data.get("ended_at"), event.occurred_at or fields.Datetime.now())
        started_at = instant(data.get("started_at"), None)
    except ValueError as error:
        raise BusinessError(
            "invalid_time",
            f"Stop {downtime_id}: {error}",
            suggested_action="Correct the time with Edit Data and Retry.",
        ) from None
    if started_at is None and data.get("duration_min") is not None:
        started_at = ended_at - timedelta(minutes=data["duration_min"])
    Productivity = env["mrp.workcenter.productivity"]
    stop = Productivity._downtime_of(event.system_id, downtime_id)
    if not stop:
        if started_at is None or loss is None:
            raise PrerequisiteMissing(
                f"Stop {downtime_id} on machine {data['machine']} ended, but its start has "
                "not reached Odoo",
                key_fields={"downtime_id": downtime_id},
            )
        stop = Productivity._open_downtime(
            event.system_id,
            downtime_id,
            workcenter,
            loss,
            started_at,
            Productivity._report_description(event, downtime_id),
        )
    stop._end_downtime(ended_at, loss)
    return stop
