from odoo.addons.mfg_integration_base.services.handler_registry import registry

# The system-of-record kind of equipment (seeded in data/).
EQUIPMENT_KIND = "equipment"


@registry.handler("cmms.equipment.updated", major=1)
def handle_equipment_updated(env, event):
    """Apply the CMMS's equipment master data, where the CMMS owns equipment."""
    event = event._cmms_origin()
    data = event.payload
    event._cmms_check_owner(EQUIPMENT_KIND, env._("equipment %s", data["equipment"]))
    equipment = event._cmms_equipment(data["equipment"])
    values = {}
    for field in ("name", "serial_no"):
        if field in data and equipment[field] != data[field]:
            values[field] = data[field]
    if "labour_rate" in data and equipment.maintenance_labour_rate != data["labour_rate"]:
        values["maintenance_labour_rate"] = data["labour_rate"]
    if "spare_parts" in data:
        parts = event.env["product.product"].browse()
        for code in data["spare_parts"]:
            parts |= event._cmms_part(code)
        if parts != equipment.spare_part_ids:
            values["spare_part_ids"] = [(6, 0, parts.ids)]
        parts.filtered(lambda part: not part.is_spare_part).is_spare_part = True
    if values:
        equipment.write(values)
    return equipment
