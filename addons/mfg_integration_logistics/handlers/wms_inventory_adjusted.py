from odoo.tools import float_compare

from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.logistics_messages import duplicates, naive_utc
from .wms_stock_moved import book_moves


def quantity_at(env, product, location, lot, moment):
    """What Odoo held of ``product`` (``lot``) exactly at ``location`` at ``moment``: the done
    movements dated up to then, in the product's unit."""
    MoveLine = env["stock.move.line"]
    domain = [
        ("state", "=", "done"),
        ("product_id", "=", product.id),
        ("lot_id", "=", lot.id or False),
        ("date", "<=", moment),
    ]
    groups = {}
    for side in ("location_dest_id", "location_id"):
        groups[side] = MoveLine._read_group(
            [*domain, (side, "=", location.id)], [], ["quantity_product_uom:sum"]
        )[0][0]
    return groups["location_dest_id"] - groups["location_id"]


@registry.handler("wms.inventory.adjusted", major=1)
def handle_inventory_adjusted(env, event):
    """Book, per counted line, the adjustment that makes Odoo's quantity at the count's time
    the counted one (the WMS's reason on the move). A line older than a count Odoo already
    applied for the same product, location and lot changes nothing."""
    data = event.payload
    system = event.system_id
    what = env._("WMS count %(ref)s", ref=data["count_id"])
    # a count overwrites Odoo's quantities: only the system of record of stock may send one
    env["mfg.integration.record.kind"]._check_inbound_update(
        "stock", system, env._("the stock counted in %(what)s", what=what)
    )
    counted_at = naive_utc(data["counted_at"])
    lines = []
    for entry in data["lines"]:
        product = event._logistics_product(entry["product_code"])
        location = event._logistics_location(entry["location"])
        quantity = event._logistics_quantity(entry["qty"], entry.get("uom"), product, what)
        lot = env["stock.lot"]
        if entry.get("lot"):
            lot = event._logistics_lot(product, entry["lot"], create=quantity > 0)
        elif product.tracking != "none" and quantity:
            raise BusinessError(
                "lot_missing",
                env._(
                    "%(what)s counts %(product)s without a lot, and Odoo tracks it",
                    what=what,
                    product=product.display_name,
                ),
                suggested_action=env._("Have the WMS send the lot; edit the data and retry."),
                key_fields={"product": product.display_name},
            )
        lines.append((product, location, lot, quantity))
    twice = duplicates((p.id, loc.id, lot.id) for p, loc, lot, _q in lines)
    if twice:
        raise BusinessError(
            "count_duplicate_line",
            env._("%(what)s counts the same product, location and lot twice", what=what),
            suggested_action=env._("Have the WMS send one line per product, location and lot."),
            key_fields={"count": data["count_id"]},
        )
    Count = env["mfg.wms.count"]
    counts = Count.browse()
    for product, location, lot, quantity in lines:
        latest = Count._latest(system, product, location, lot)
        if latest.count_ref == data["count_id"] and latest.counted_at == counted_at:
            counts |= latest  # this count sent again: applied once
            continue
        newer = bool(latest) and latest.counted_at >= counted_at
        before = quantity_at(env, product, location, lot, counted_at)
        values = {
            "system_id": system.id,
            "count_ref": data["count_id"],
            "counted_at": counted_at,
            "reason": data["reason"],
            "product_id": product.id,
            "location_id": location.id,
            "lot_id": lot.id,
            "quantity": quantity,
            "quantity_before": before,
            "event_id": event.id,
            "applied": not newer,
        }
        difference = quantity - before
        if not newer and float_compare(difference, 0, precision_rounding=product.uom_id.rounding):
            adjustment = product.with_company(env.company).property_stock_inventory
            route = (adjustment, location) if difference > 0 else (location, adjustment)
            moves = book_moves(
                env,
                product,
                {route: [(lot, abs(difference))]},
                {
                    "name": env._("%(what)s: %(reason)s", what=what, reason=data["reason"]),
                    "origin": what,
                    "is_inventory": True,
                    "wms_system_id": system.id,
                },
                counted_at,
            )
            values["move_id"] = moves.id
        counts |= Count.create(values)
    return counts[:1]
