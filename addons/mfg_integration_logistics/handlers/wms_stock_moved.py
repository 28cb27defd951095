from collections import defaultdict

from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.logistics_messages import naive_utc


def lot_pieces(env, event, product, quantity, lots, what):
    """[(lot, quantity in the product's unit)] of a tracked product's lines, checked:
    every unit named by a lot, a serial number once with quantity 1; untracked: one piece."""
    Lot = env["stock.lot"]
    if product.tracking == "none":
        return [(Lot, quantity)]
    if not lots:
        raise BusinessError(
            "lot_missing",
            env._(
                "%(what)s of %(product)s names no lot or serial number, and Odoo tracks it",
                what=what,
                product=product.display_name,
            ),
            suggested_action=env._("Have the WMS send the lots; edit the event's data and retry."),
            key_fields={"product": product.display_name},
        )
    pieces = []
    uom = event.payload.get("uom")
    for entry in lots:
        lot_quantity = event._logistics_quantity(entry["qty"], uom, product, what)
        if product.tracking == "serial" and lot_quantity != 1:
            raise BusinessError(
                "serial_quantity",
                env._(
                    "%(what)s moves serial number %(lot)s with quantity %(qty)s: a serial "
                    "number is one unit",
                    what=what,
                    lot=entry["lot"],
                    qty=entry["qty"],
                ),
                suggested_action=env._("Correct the event's data and retry."),
                key_fields={"lot": entry["lot"]},
            )
        pieces.append((event._logistics_lot(product, entry["lot"], create=True), lot_quantity))
    total = sum(piece_quantity for _lot, piece_quantity in pieces)
    if abs(total - quantity) > product.uom_id.rounding / 2:
        raise BusinessError(
            "lot_quantity_mismatch",
            env._(
                "%(what)s moves %(qty)s of %(product)s but its lots add up to %(total)s",
                what=what,
                qty=quantity,
                product=product.display_name,
                total=total,
            ),
            suggested_action=env._("Correct the event's data and retry."),
            key_fields={"product": product.display_name},
        )
    return pieces


def book_moves(env, product, groups, values, moment):
    """Book done moves of ``product``: ``groups`` is {(source, destination): [(lot, qty)]};
    each move and its lines carry ``moment`` as their date (when it happened)."""
    Move = env["stock.move"]
    moves = Move.browse()
    for (source, destination), pieces in groups.items():
        if source == destination:
            continue
        move = Move.create(
            dict(
                values,
                product_id=product.id,
                product_uom=product.uom_id.id,
                product_uom_qty=sum(qty for _lot, qty in pieces),
                location_id=source.id,
                location_dest_id=destination.id,
                company_id=env.company.id,
                state="confirmed",
                picked=True,
                move_line_ids=[
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "product_uom_id": product.uom_id.id,
                            "quantity": qty,
                            "lot_id": lot.id,
                            "location_id": source.id,
                            "location_dest_id": destination.id,
                            "picked": True,
                        },
                    )
                    for lot, qty in pieces
                ],
            )
        )
        move._action_done()
        moves |= move
    if moves and moment:
        moves.write({"date": moment})
        moves.move_line_ids.write({"date": moment})
    return moves


@registry.handler("wms.stock.moved", major=1)
def handle_stock_moved(env, event):
    """Book the WMS's transfer between two mapped locations, once per movement id. A side of
    the transfer at a location the WMS counted after the movement happened is part of that
    count: it goes to (or comes from) inventory adjustment instead, so the count stands."""
    data = event.payload
    system = event.system_id
    Move = env["stock.move"]
    applied = Move.search(
        [("wms_system_id", "=", system.id), ("wms_movement_ref", "=", data["movement_id"])]
    )
    if applied:
        return applied[0]  # the same movement sent again (a new envelope): applied once
    what = env._("WMS movement %(ref)s", ref=data["movement_id"])
    product = event._logistics_product(data["product_code"])
    source = event._logistics_location(data["from_location"])
    destination = event._logistics_location(data["to_location"])
    quantity = event._logistics_quantity(data["qty"], data.get("uom"), product, what)
    pieces = lot_pieces(env, event, product, quantity, data.get("lots"), what)
    lots = env["stock.lot"].browse([lot.id for lot, _qty in pieces if lot])
    event._logistics_check_lots_released(lots, what)
    moment = naive_utc(data.get("moved_at")) or event.occurred_at
    adjustment = product.with_company(env.company).property_stock_inventory
    Count = env["mfg.wms.count"]
    groups = defaultdict(list)
    for lot, qty in pieces:
        counted_from = Count._latest(system, product, source, lot)
        counted_to = Count._latest(system, product, destination, lot)
        from_ = adjustment if counted_from and counted_from.counted_at > moment else source
        to = adjustment if counted_to and counted_to.counted_at > moment else destination
        groups[(from_, to)].append((lot, qty))
    values = {
        "name": data.get("reason") or what,
        "origin": what,
        "wms_system_id": system.id,
        "wms_movement_ref": data["movement_id"],
    }
    moves = book_moves(env, product, groups, values, moment)
    if not moves:
        # counted on both sides after it happened: only the movement id is kept
        moves = Move.create(
            dict(
                values,
                product_id=product.id,
                product_uom=product.uom_id.id,
                product_uom_qty=quantity,
                location_id=source.id,
                location_dest_id=destination.id,
                state="cancel",
            )
        )
    return moves[0]
