"""SAP stock against Odoo quants, per material, plant, storage location and batch.

The external side is a full snapshot of ``A_MatlStkInAcctMod`` (API_MATERIAL_STOCK_SRV) of
the system's plant, unrestricted-use stock (``InventoryStockType`` 01) without special
stock; the Odoo side is the quants under each location the system's location mapping names
(external code = storage location), per product (its SAP material through the product
mapping, else its internal reference) and lot (its batch). Keys seen on one side only are
missing on the other.
"""

from collections import defaultdict

from odoo.addons.mfg_integration_base.services.reconciliation import Row, registry

from ..services import sap_values

STOCK_SERVICE = "API_MATERIAL_STOCK_SRV"
UNRESTRICTED = "01"


def sap_stock(system):
    """{(material, storage location, batch): quantity} of SAP's unrestricted stock."""
    client = system._sap_settings().client(STOCK_SERVICE)
    totals = defaultdict(float)
    condition = f"Plant eq '{system.sap_plant}' and InventoryStockType eq '{UNRESTRICTED}'"
    for row in client.iter_entities(
        "A_MatlStkInAcctMod",
        filter=condition,
        decimal_fields=("MatlWrhsStkQtyInMatlBaseUnit",),
    ):
        if row.get("InventorySpecialStockType"):
            continue
        key = (row["Material"], row.get("StorageLocation") or "", row.get("Batch") or "")
        totals[key] += float(row["MatlWrhsStkQtyInMatlBaseUnit"])
    return totals


def odoo_stock(system):
    """{(material, storage location, batch): quantity} of the quants under mapped locations."""
    env = system.env
    Mapping = env["mfg.integration.mapping"].sudo()
    lines = (
        env["mfg.integration.mapping.line"]
        .sudo()
        .search(
            [
                ("mapping_id.system_id", "=", system.id),
                ("mapping_id.kind", "=", "location"),
                ("mapping_id.active", "=", True),
            ]
        )
    )
    totals = defaultdict(float)
    for line in lines:
        location = line.target_ref
        if not location:
            continue
        quants = (
            env["stock.quant"]
            .sudo()
            .search(
                [("location_id", "child_of", location.id), ("product_id.is_storable", "=", True)]
            )
        )
        for quant in quants:
            material = sap_values.material_code(Mapping, system, quant.product_id)
            batch = sap_values.batch_code(Mapping, system, quant.lot_id) if quant.lot_id else ""
            totals[(material, line.external_code, batch)] += quant.quantity
    return totals


@registry.kind("sap_stock", "SAP stock per material, plant, storage location and batch")
def compare_sap_stock(rule, start, end):
    system = rule.system_id
    external = sap_stock(system)
    odoo = odoo_stock(system)
    for key in sorted(external.keys() | odoo.keys()):
        material, storage_location, batch = key
        label = f"{material} in {system.sap_plant}/{storage_location}"
        if batch:
            label = f"{label}, batch {batch}"
        yield Row(
            key=f"{system.code}/{material}/{system.sap_plant}/{storage_location}/{batch}",
            odoo_value=odoo.get(key),
            external_value=external.get(key),
            label=label,
        )
