from odoo import fields

from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.stamps import instant


@registry.handler("mes.downtime.started", major=1)
def handle_downtime_started(env, event):
    """Open the stop on the machine's work center with the mapped loss reason.

    A stop is keyed on the system and its downtime_id: a replayed start, or a start whose
    end arrived first and already recorded the whole stop, changes nothing.
    """
    data = event.payload
    workcenter = event._mes_workcenter(data["machine"])
    Productivity = env["mrp.workcenter.productivity"]
    stop = Productivity._downtime_of(event.system_id, data["downtime_id"])
    if stop:
        return stop
    loss = event._map("loss_reason", data["reason"])
    try:
        started_at = instant(data.get("started_at"), event.occurred_at or fields.Datetime.now())
    except ValueError as error:
        raise BusinessError(
            "invalid_time",
            f"Stop {data['downtime_id']}: the start time {error}",
            suggested_action="Correct the time with Edit Data and Retry.",
        ) from None
    return Productivity._open_downtime(
        event.system_id,
        data["downtime_id"],
        workcenter,
        loss,
        started_at,
        Productivity._report_description(event, data["downtime_id"]),
    )
