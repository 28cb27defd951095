from odoo.addons.mfg_integration_base.services.handler_registry import registry

from .cmms_workorder_created import REQUEST_KIND
from .workorder_values import request_values


@registry.handler("cmms.workorder.updated", major=1)
def handle_workorder_updated(env, event):
    """Bring the work order's request in step with the fields the CMMS sent."""
    event = event._cmms_origin()
    event._cmms_check_owner(REQUEST_KIND, env._("work order %s", event.payload["workorder_ref"]))
    request = event._cmms_request(event.payload["workorder_ref"])
    values = request_values(event, event.payload)
    if values:
        request.write(values)
    return request
