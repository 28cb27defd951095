from collections import defaultdict

from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.logistics_messages import naive_utc


def shipped_pieces(env, event, picking, what):
    """{product: [(lot, package name, quantity in the product's unit)]} of the shipment's
    lines, checked against the delivery (its products, lots of tracked products)."""
    pieces = defaultdict(list)
    delivered_products = picking.move_ids.product_id
    for entry in event.payload["lines"]:
        product = event._logistics_product(entry["product_code"])
        if product not in delivered_products:
            raise BusinessError(
                "product_not_in_delivery",
                env._(
                    "%(what)s ships %(product)s, which delivery %(ref)s does not contain",
                    what=what,
                    product=product.display_name,
                    ref=picking.name,
                ),
                suggested_action=env._(
                    "Check the shipment in the WMS; correct the event's data and retry, or add "
                    "the product to the delivery in Odoo and retry."
                ),
                key_fields={"delivery": picking.name, "product": product.display_name},
            )
        quantity = event._logistics_quantity(entry["qty"], entry.get("uom"), product, what)
        lot = env["stock.lot"]
        if entry.get("lot"):
            lot = event._logistics_lot(product, entry["lot"])
            if not lot:
                raise BusinessError(
                    "lot_unknown",
                    env._(
                        "%(what)s ships lot %(lot)s of %(product)s, which Odoo does not know",
                        what=what,
                        lot=entry["lot"],
                        product=product.display_name,
                    ),
                    suggested_action=env._(
                        "Check the lot in the WMS (or receive it in Odoo), then retry."
                    ),
                    key_fields={"lot": entry["lot"], "product": product.display_name},
                )
        elif product.tracking != "none" and quantity:
            raise BusinessError(
                "lot_missing",
                env._(
                    "%(what)s ships %(product)s without a lot, and Odoo tracks it",
                    what=what,
                    product=product.display_name,
                ),
                suggested_action=env._("Have the WMS send the lot; edit the data and retry."),
                key_fields={"product": product.display_name},
            )
        if quantity:
            pieces[product].append((lot, entry.get("package"), quantity))
    return pieces


def package_named(env, name):
    Package = env["stock.quant.package"]
    if not name:
        return Package
    return Package.search([("name", "=", name)], limit=1) or Package.create({"name": name})


def set_shipped_lines(env, picking, pieces):
    """Replace the delivery's reserved lines by what the WMS shipped, move by move."""
    for move in picking.move_ids.filtered(lambda m: m.state not in ("done", "cancel")):
        move.move_line_ids.unlink()
    for product, product_pieces in pieces.items():
        moves = picking.move_ids.filtered(
            lambda m, p=product: m.product_id == p and m.state not in ("done", "cancel")
        )
        left = {move: move.product_qty for move in moves}
        for lot, package, quantity in product_pieces:
            remaining = quantity
            for index, move in enumerate(moves):
                last = index == len(moves) - 1
                share = remaining if last else min(remaining, max(left[move], 0.0))
                if share <= 0:
                    continue
                values = move._prepare_move_line_vals(quantity=share)
                values.update(
                    {
                        "lot_id": lot.id,
                        "product_uom_id": product.uom_id.id,
                        "quantity": share,
                        "result_package_id": package_named(env, package).id,
                        "picked": True,
                    }
                )
                env["stock.move.line"].create(values)
                left[move] -= share
                remaining -= share
                if remaining <= 0:
                    break
    picking.move_ids.filtered(lambda m: m.state not in ("done", "cancel")).picked = True


@registry.handler("wms.shipment.confirmed", major=1)
def handle_shipment_confirmed(env, event):
    """Validate the delivery with what the WMS shipped; what was short stays in a backorder.
    A delivery already done is not validated again (the shipment is a duplicate)."""
    data = event.payload
    what = env._("WMS shipment %(ref)s", ref=data["shipment_id"])
    picking = env["stock.picking"].search(
        [("name", "=", data["delivery_ref"]), ("picking_type_code", "=", "outgoing")], limit=1
    )
    if not picking:
        raise BusinessError(
            "delivery_unknown",
            env._(
                "%(what)s confirms delivery %(ref)s, which Odoo does not know",
                what=what,
                ref=data["delivery_ref"],
            ),
            suggested_action=env._(
                "Check the delivery reference in the WMS; correct the event's data and retry."
            ),
            key_fields={"delivery": data["delivery_ref"]},
        )
    if picking.state == "done":
        return picking  # shipped already: a duplicate, never a second validation
    if picking.state == "cancel":
        raise BusinessError(
            "delivery_cancelled",
            env._(
                "%(what)s confirms delivery %(ref)s, which is cancelled in Odoo",
                what=what,
                ref=picking.name,
            ),
            suggested_action=env._(
                "Goods left for a cancelled delivery: check with sales and the warehouse, "
                "then discard the event or recreate the delivery and retry."
            ),
            key_fields={"delivery": picking.name},
        )
    pieces = shipped_pieces(env, event, picking, what)
    lots = env["stock.lot"].browse(
        [lot.id for entries in pieces.values() for lot, _pkg, _qty in entries if lot]
    )
    event._logistics_check_lots_released(lots, what)
    if not pieces:
        raise BusinessError(
            "nothing_shipped",
            env._("%(what)s ships nothing of delivery %(ref)s", what=what, ref=picking.name),
            suggested_action=env._("Discard the event, or correct its quantities and retry."),
            key_fields={"delivery": picking.name},
        )
    set_shipped_lines(env, picking, pieces)
    picking.write(
        {
            "wms_shipment_ref": data["shipment_id"],
            "wms_carrier": data.get("carrier") or picking.wms_carrier,
            "wms_tracking_ref": data.get("tracking_ref") or picking.wms_tracking_ref,
        }
    )
    shipped_at = naive_utc(data.get("shipped_at"))
    result = picking.with_context(
        skip_backorder=True, skip_sms=True, wms_shipped_at=shipped_at
    ).button_validate()
    if picking.state != "done":
        raise BusinessError(
            "delivery_not_validated",
            env._(
                "Odoo did not validate delivery %(ref)s (%(result)s)",
                ref=picking.name,
                result=result,
            ),
            suggested_action=env._("Open the delivery, check what blocks it, then retry."),
            key_fields={"delivery": picking.name},
        )
    if shipped_at:
        picking.date_done = shipped_at
    return picking
