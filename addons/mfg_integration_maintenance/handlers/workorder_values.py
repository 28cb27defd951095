"""The maintenance request values a CMMS work order's data stands for (created and updated)."""

from ..services.cmms_values import odoo_priority


def request_values(event, data):
    """Values of ``maintenance.request`` for the fields ``data`` carries (absent: unchanged)."""
    values = {}
    if "title" in data:
        values["name"] = data["title"]
    if "maintenance_type" in data:
        values["maintenance_type"] = data["maintenance_type"]
    if "equipment" in data:
        equipment = event._cmms_equipment(data["equipment"])
        values["equipment_id"] = equipment.id
        if equipment.company_id:
            values["company_id"] = equipment.company_id.id
    if "planned_start" in data:
        start = event._cmms_time(data["planned_start"], event.env._("The planned start"))
        values["schedule_date"] = start
        values["request_date"] = start.date()
    if "planned_hours" in data:
        values["duration"] = data["planned_hours"]
    if "technician" in data:
        values["user_id"] = event._cmms_technician(data["technician"]).id
    if data.get("priority"):
        values["priority"] = odoo_priority(data["priority"])
    if "description" in data:
        values["description"] = data["description"]
    return values
