from odoo import fields

from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("cmms.workorder.completed", major=1)
def handle_workorder_completed(env, event):
    """Close the request with the hours the CMMS booked (an execution fact: accepted from the
    CMMS whoever owns the request)."""
    event = event._cmms_origin()
    data = event.payload
    request = event._cmms_request(data["workorder_ref"])
    completed_at = (
        event._cmms_time(data["completed_at"], env._("The completion time"))
        if data.get("completed_at")
        else event.occurred_at or fields.Datetime.now()
    )
    if data.get("technician"):
        request.user_id = event._cmms_technician(data["technician"])
    request._cmms_complete(data["labour_hours"], completed_at, data.get("note"))
    return request
