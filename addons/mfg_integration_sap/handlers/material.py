from odoo.addons.mfg_integration_base.services.errors import MappingMissing
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from .common import resolve_unit


@registry.handler("sap.material.changed", major=1)
def handle_material(env, event):
    """Bring a material into Odoo's products while the system is the system of record for
    products: the mapped product gets SAP's description; an unknown material becomes a new
    storable product (batch-managed materials lot-tracked) with its product mapping line."""
    data = event.payload
    system = event.system_id
    code = data["Product"]
    env["mfg.integration.record.kind"]._check_inbound_update(
        "product", system, env._("material %(code)s", code=code)
    )
    name = data.get("ProductDescription") or code
    try:
        product = env["mfg.integration.mapping"]._resolve(system, "product", code)
    except MappingMissing:
        product = None
    if product:
        values = {"name": name} if product.name != name else {}
        if data.get("IsMarkedForDeletion") and product.active:
            values["active"] = False
        if values:
            product.write(values)
        return product
    unit = resolve_unit(env, system, data["BaseUnit"])
    product = env["product.product"].create(
        {
            "name": name,
            "default_code": code,
            "is_storable": True,
            "uom_id": unit.id,
            "uom_po_id": unit.id,
            "tracking": "lot" if data.get("IsBatchManagementRequired") else "none",
        }
    )
    Mapping = env["mfg.integration.mapping"].sudo()
    mapping = Mapping.with_context(active_test=False).search(
        [("system_id", "=", system.id), ("kind", "=", "product")], limit=1
    ) or Mapping.create({"system_id": system.id, "kind": "product"})
    env["mfg.integration.mapping.line"].sudo().create(
        {
            "mapping_id": mapping.id,
            "external_code": code,
            "target_ref": f"product.product,{product.id}",
            "note": env._("Created by the pull from %(system)s", system=system.name),
        }
    )
    return product
