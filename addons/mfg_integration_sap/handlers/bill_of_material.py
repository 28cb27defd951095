from odoo.addons.mfg_integration_base.services.handler_registry import registry

from .common import decimal_quantity, resolve_product, resolve_unit


def bom_key(data):
    """SAP's identity of a material BoM: material, plant, BoM number and variant."""
    variant = data.get("BillOfMaterialVariant") or "1"
    return f"{data['Material']}/{data['Plant']}/{data['BillOfMaterial']}/{variant}"


@registry.handler("sap.bom.changed", major=1)
def handle_bill_of_material(env, event):
    """Create or replace the Odoo BoM of an SAP material BoM (its components through the
    product mappings: an unknown component is a missing mapping) while the system is the
    system of record for BoMs."""
    data = event.payload
    system = event.system_id
    key = bom_key(data)
    env["mfg.integration.record.kind"]._check_inbound_update(
        "bom", system, env._("the BoM %(key)s", key=key)
    )
    key_fields = {"bom": key}
    product = resolve_product(env, system, data["Material"])
    header_unit = resolve_unit(env, system, data["BOMHeaderBaseUnit"], product.uom_id)
    lines = [(5, 0, 0)]
    for item in data["items"]:
        component = resolve_product(env, system, item["BillOfMaterialComponent"])
        unit = resolve_unit(env, system, item["BillOfMaterialItemUnit"], component.uom_id)
        quantity = decimal_quantity(
            item["BillOfMaterialItemQuantity"],
            f"component {item['BillOfMaterialComponent']} of BoM {key}",
            key_fields,
        )
        lines.append(
            (0, 0, {"product_id": component.id, "product_qty": quantity, "product_uom_id": unit.id})
        )
    values = {
        "product_tmpl_id": product.product_tmpl_id.id,
        "product_id": product.id,
        "product_qty": decimal_quantity(
            data["BOMHeaderQuantityInBaseUnit"], f"BoM {key}'s base quantity", key_fields
        ),
        "product_uom_id": header_unit.id,
        "code": f"SAP {data['BillOfMaterial']}",
        "bom_line_ids": lines,
    }
    Bom = env["mrp.bom"]
    bom = Bom.search([("sap_bom_key", "=", key), ("sap_system_id", "=", system.id)], limit=1)
    if bom:
        bom.write(values)
        return bom
    return Bom.create(dict(values, sap_bom_key=key, sap_system_id=system.id))
