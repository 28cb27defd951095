from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("cmms.technician.assigned", major=1)
def handle_technician_assigned(env, event):
    """Set the request's technician (an assignment: accepted from the CMMS whoever owns the
    request, as the completion is)."""
    event = event._cmms_origin()
    data = event.payload
    request = event._cmms_request(data["workorder_ref"])
    technician = event._cmms_technician(data["technician"])
    if request.user_id != technician:
        request.user_id = technician
    return request
