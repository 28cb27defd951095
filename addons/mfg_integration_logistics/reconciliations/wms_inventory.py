"""WMS inventory: the WMS's latest inventory snapshot against Odoo's quants.

The external side is the latest ``wms.inventory.snapshot`` event the rule's system sent within
the rule's window (processed, not shadow, data not purged), in each product's unit. The Odoo
side is, for every location the system has mapped (kind ``location``), the quants in that
location and its sublocations, per product and lot. Map each WMS location to its own Odoo
location: two codes mapped to nested locations would count the inner one twice.

One row per (location code, product, lot): ``<system>/<location>/<product>/<lot or ->``,
with the rule's tolerance. A key the snapshot has and Odoo does not is missing in Odoo; a
product Odoo holds at a mapped location that the snapshot lacks is missing in the WMS.
"""

from collections import defaultdict

from odoo import _
from odoo.exceptions import UserError

from odoo.addons.mfg_integration_base.reconciliations.snapshots import latest_snapshot
from odoo.addons.mfg_integration_base.services.errors import MappingMissing
from odoo.addons.mfg_integration_base.services.reconciliation import Row, registry

SNAPSHOT_TYPE = "wms.inventory.snapshot"


def mapped_locations(env, system):
    """{WMS location code: Odoo location} of the system's location mapping."""
    lines = env["mfg.integration.mapping.line"].search(
        [
            ("mapping_id.system_id", "=", system.id),
            ("mapping_id.kind", "=", "location"),
            ("mapping_id.active", "=", True),
        ]
    )
    return {line.external_code: line.target_ref for line in lines if line.target_ref}


def wms_quantities(event, locations):
    """{(location code, product id, lot name): quantity in the product's unit}."""
    quantities = defaultdict(float)
    for entry in event.payload["lines"]:
        if entry["location"] not in locations:
            raise UserError(
                _(
                    "WMS location '%(code)s' of the snapshot has no mapping any more: map it "
                    "(Integration, Mappings) and run the rule again.",
                    code=entry["location"],
                )
            )
        try:
            product = event._logistics_product(entry["product_code"])
            quantity = event._logistics_quantity(
                entry["qty"], entry.get("uom"), product, _("The snapshot")
            )
        except MappingMissing as missing:
            raise UserError(missing.message) from None
        key = (entry["location"], product.id, entry.get("lot") or "")
        quantities[key] += quantity
    return quantities


def odoo_quantities(env, locations):
    """{(location code, product id, lot name): on hand} under each mapped location."""
    quantities = defaultdict(float)
    for code, location in locations.items():
        groups = env["stock.quant"]._read_group(
            [("location_id", "child_of", location.id), ("product_id.is_storable", "=", True)],
            ["product_id", "lot_id"],
            ["quantity:sum"],
        )
        for product, lot, quantity in groups:
            quantities[(code, product.id, lot.name or "")] += quantity
    return quantities


@registry.kind("wms_inventory", "WMS inventory (per product, location and lot)")
def compare_wms_inventory(rule, start, end):
    """Per location, product and lot of the latest snapshot and of Odoo's quants at the
    mapped locations: Odoo's quantity against the WMS's."""
    env = rule.env
    event = latest_snapshot(rule, SNAPSHOT_TYPE, _("inventory snapshot"), start, end)
    locations = mapped_locations(env, rule.system_id)
    external = wms_quantities(event, locations)
    odoo = odoo_quantities(env, locations)
    products = env["product.product"].browse({key[1] for key in external.keys() | odoo.keys()})
    Event = env["mfg.integration.event"]
    codes = {
        product.id: Event._logistics_code(
            rule.system_id, "product", product, product.default_code or str(product.id)
        )
        for product in products
    }
    system_code = rule.system_id.code
    for key in sorted(external.keys() | odoo.keys(), key=lambda k: (k[0], codes[k[1]], k[2])):
        location, product_id, lot = key
        odoo_value, wms_value = odoo.get(key), external.get(key)
        if odoo_value is not None and not odoo_value and wms_value is None:
            continue  # an empty quant Odoo keeps is not a difference
        yield Row(
            key=f"{system_code}/{location}/{codes[product_id]}/{lot or '-'}",
            odoo_value=odoo_value,
            external_value=wms_value,
            label=_(
                "%(product)s lot %(lot)s in %(location)s",
                product=codes[product_id],
                lot=lot,
                location=location,
            )
            if lot
            else _("%(product)s in %(location)s", product=codes[product_id], location=location),
        )
