from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import moot_checks, registry

from ..services.logistics_messages import duplicates


@registry.handler("wms.inventory.snapshot", major=1)
def handle_inventory_snapshot(env, event):
    """Keep the snapshot as the event's data for the ``wms_inventory`` reconciliation, once
    every code in it resolves (an unknown one: Create Mapping) and no key repeats."""
    keys = []
    for entry in event.payload["lines"]:
        product = event._logistics_product(entry["product_code"])
        event._logistics_location(entry["location"])
        event._logistics_quantity(entry["qty"], entry.get("uom"), product, env._("The snapshot"))
        keys.append((entry["location"], entry["product_code"], entry.get("lot") or ""))
    twice = duplicates(keys)
    if twice:
        listed = ", ".join("/".join(filter(None, key)) for key in twice[:5])
        raise BusinessError(
            "snapshot_duplicate_line",
            env._("The WMS snapshot lists %(keys)s more than once", keys=listed),
            suggested_action=env._(
                "Have the WMS send one line per location, product and lot; discard this "
                "snapshot (the next one replaces it)."
            ),
            key_fields={"snapshot": event.payload["snapshot_id"]},
        )


@moot_checks.check("wms.inventory.snapshot", major=1)
def snapshot_superseded(env, failed_event, later_event):
    """A refused snapshot does not hold later ones back: each replaces the one before."""
    if later_event.event_type == "wms.inventory.snapshot":
        return env._("a later WMS snapshot replaces this one")
    return None
