from odoo.tools import float_round

from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.production_rules import lot_shortfall


@registry.handler("mes.material.consumed", major=1)
def handle_material_consumed(env, event):
    """Book a reported consumption on the order's component move, from the named lot.

    The move becomes manual (picked): completion keeps what the MES reported and backflushes
    only the components it never reported. A lot not on hand at the source location is a
    planner's exception, never a negative quant.
    """
    data = event.payload
    reference = data["production_ref"]
    production = env["mrp.production"]._mes_open_order(reference)
    product = event._mes_product(data["product_code"])
    move = production.move_raw_ids.filtered(
        lambda m: m.product_id == product and m.state not in ("done", "cancel")
    )[:1]
    if not move:
        raise BusinessError(
            "component_not_in_order",
            env._(
                "The MES reports %(product)s consumed on order %(ref)s, which does not use it",
                product=product.display_name,
                ref=reference,
            ),
            suggested_action=env._(
                "Add the component to the order in Odoo (or correct the product in the event's "
                "data), then retry."
            ),
            key_fields={"order": reference, "product": data["product_code"]},
        )
    quantity = event._mes_quantity(
        data["qty"], data.get("uom"), move.product_uom, env._("The quantity consumed")
    )
    location = event._mes_location(data["location"]) if data.get("location") else move.location_id
    lot = env["stock.lot"]
    if product.tracking != "none" or data.get("lot"):
        lot = _available_lot(env, event, move, product, location, quantity, data)
    if not (move.manual_consumption and move.picked):
        move.move_line_ids.unlink()  # reservations the MES did not confirm
        move.manual_consumption = True
    line = move.move_line_ids.filtered(lambda ml: ml.lot_id == lot and ml.location_id == location)
    if line:
        line.quantity += quantity
    else:
        values = move._prepare_move_line_vals(quantity=quantity)
        values.update(lot_id=lot.id, location_id=location.id, picked=True)
        env["stock.move.line"].create(values)
    move.picked = True
    return move


def _available_lot(env, event, move, product, location, quantity, data):
    reference = data["production_ref"]
    lot = event._mes_lot(product, data["lot"], move.company_id) if data.get("lot") else None
    on_hand = 0.0
    if lot:
        quants = env["stock.quant"].search(
            [
                ("product_id", "=", product.id),
                ("lot_id", "=", lot.id),
                ("location_id", "child_of", location.id),
            ]
        )
        on_hand = product.uom_id._compute_quantity(sum(quants.mapped("quantity")), move.product_uom)
    reported = move.manual_consumption and move.picked
    consumed = sum(
        ml.quantity for ml in move.move_line_ids if reported and lot and ml.lot_id == lot
    )
    missing = lot_shortfall(on_hand, consumed, quantity, move.product_uom.rounding)
    if lot and not missing:
        return lot
    raise BusinessError(
        "lot_not_available",
        env._(
            "Lot %(lot)s of %(product)s is not available at %(location)s for order %(ref)s: "
            "%(missing)s %(uom)s more than on hand would be consumed",
            lot=data.get("lot") or env._("(none given)"),
            product=product.display_name,
            location=location.display_name,
            ref=reference,
            missing=float_round(missing or quantity, precision_rounding=move.product_uom.rounding),
            uom=move.product_uom.name,
        ),
        suggested_action=env._(
            "Check the lot label on the shop floor: correct the lot in the event's data, or "
            "receive or move the lot to %(location)s in Odoo, then retry.",
            location=location.display_name,
        ),
        key_fields={"order": reference, "lot": data.get("lot") or ""},
    )
