from odoo.addons.mfg_integration_base.services.handler_registry import registry

from .workorder_values import request_values

# The system-of-record kind of maintenance requests (seeded in data/).
REQUEST_KIND = "maintenance_request"


@registry.handler("cmms.workorder.created", major=1)
def handle_workorder_created(env, event):
    """Create the request of a CMMS work order; one Odoo already has (the CMMS sent the
    creation again) is brought in step instead, so a resent creation changes nothing."""
    event = event._cmms_origin()
    data = event.payload
    event._cmms_check_owner(REQUEST_KIND, env._("work order %s", data["workorder_ref"]))
    values = request_values(event, data)
    Request = event.env["maintenance.request"]
    request = Request.search(
        [("cmms_system_id", "=", event.system_id.id), ("cmms_ref", "=", data["workorder_ref"])],
        limit=1,
    )
    if request:
        request.write(values)
        return request
    values.update(cmms_system_id=event.system_id.id, cmms_ref=data["workorder_ref"])
    return Request.create(values)
