from odoo.addons.mfg_integration_base.services.handler_registry import registry

# The system-of-record kind of spare parts (seeded in data/).
SPARE_PART_KIND = "spare_part"


@registry.handler("cmms.spare_part.updated", major=1)
def handle_spare_part_updated(env, event):
    """Apply the CMMS's spare part data (its name, the equipment it fits), where the CMMS
    owns spare parts."""
    event = event._cmms_origin()
    data = event.payload
    event._cmms_check_owner(SPARE_PART_KIND, env._("spare part %s", data["part_code"]))
    part = event._cmms_part(data["part_code"])
    values = {} if part.is_spare_part else {"is_spare_part": True}
    if "name" in data and part.name != data["name"]:
        values["name"] = data["name"]
    if "equipment" in data:
        equipments = event.env["maintenance.equipment"].browse()
        for code in data["equipment"]:
            equipments |= event._cmms_equipment(code)
        if equipments != part.spare_part_equipment_ids:
            values["spare_part_equipment_ids"] = [(6, 0, equipments.ids)]
    if values:
        part.write(values)
    return part
