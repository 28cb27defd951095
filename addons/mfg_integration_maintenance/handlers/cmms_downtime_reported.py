from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("cmms.downtime.reported", major=1)
def handle_downtime_reported(env, event):
    """Record the stop of the request's equipment as a productivity loss of its work center
    (the MES addon's equipment link), linked to the request."""
    event = event._cmms_origin()
    data = event.payload
    request = event._cmms_request(data["workorder_ref"])
    workcenter = request.equipment_id.workcenter_ids[:1]
    if not workcenter:
        raise BusinessError(
            "equipment_without_workcenter",
            env._(
                "Work order %(ref)s stopped %(equipment)s, which no work center uses: there is "
                "no work center to record the stop on",
                ref=data["workorder_ref"],
                equipment=request.equipment_id.display_name or env._("(no equipment)"),
            ),
            suggested_action=env._(
                "Set the equipment on its work center (Manufacturing > Work Centers), then "
                "retry."
            ),
            key_fields={"equipment": request.equipment_id.display_name or ""},
        )
    if data.get("reason"):
        loss = event._map("loss_reason", data["reason"])
    elif request.maintenance_type == "preventive":
        loss = env.ref("mrp.block_reason2")  # "Setup and Adjustments": a planned stop
    else:
        loss = env.ref("mrp.block_reason1")  # "Equipment failure"
    started_at = event._cmms_time(data["started_at"], env._("The stop's start"))
    ended_at = event._cmms_time(data["ended_at"], env._("The stop's end"))
    reference = data.get("downtime_ref") or event.event_uid
    return request._cmms_record_downtime(
        event.system_id,
        f"{data['workorder_ref']}/{reference}"[:255],
        workcenter,
        loss,
        started_at,
        ended_at,
    )
