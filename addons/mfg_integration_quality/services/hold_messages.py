"""Outbound quality messages: plain values of a hold or an NCR -> contract data (no ORM).

SAP keeps held material as *blocked stock*: a hold is the goods movement unrestricted ->
blocked (movement type 344), a release blocked -> unrestricted (343), a scrap from blocked
stock is 555. The fields are named as a goods movement item needs them (material, plant,
storage location, batch, quantity), so an SAP adapter posts them without asking Odoo again.
"""

from datetime import UTC

MOVEMENT_HOLD = "344"
MOVEMENT_RELEASE = "343"
MOVEMENT_SCRAP_BLOCKED = "555"
# SAP movement type per disposition of a released hold (return: stays blocked until shipped)
RELEASE_MOVEMENTS = {
    "use_as_is": MOVEMENT_RELEASE,
    "rework": MOVEMENT_RELEASE,
    "scrap": MOVEMENT_SCRAP_BLOCKED,
    "return": None,
}


def stamp(moment):
    """A naive UTC datetime as RFC 3339 (None stays None)."""
    if not moment:
        return None
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _items(facts):
    return [
        {
            "plant": item["plant"],
            "storage_location": item["storage_location"],
            "quantity": item["quantity"],
            "uom": facts["uom"],
        }
        for item in facts["stock"]
    ]


def hold_placed(facts):
    return {
        "hold": facts["hold"],
        "lot": facts["lot"],
        "product_code": facts["product_code"],
        "product_name": facts["product_name"],
        "reason": facts["reason"],
        "ncr": facts["ncr"],
        "placed_at": stamp(facts["placed_at"]),
        "do_not_consume": True,
        "material": facts["product_code"],
        "batch": facts["lot"],
        "quantity": facts["quantity"],
        "uom": facts["uom"],
        "stock_type_from": "unrestricted",
        "stock_type_to": "blocked",
        "movement_type": MOVEMENT_HOLD,
        "items": _items(facts),
    }


def hold_released(facts):
    disposition = facts["disposition"] or "use_as_is"
    movement = RELEASE_MOVEMENTS[disposition]
    return {
        "hold": facts["hold"],
        "lot": facts["lot"],
        "product_code": facts["product_code"],
        "disposition": disposition,
        "ncr": facts["ncr"],
        "released_at": stamp(facts["released_at"]),
        "released_by": facts["released_by"] or None,
        "do_not_consume": disposition not in ("use_as_is", "rework"),
        "material": facts["product_code"],
        "batch": facts["lot"],
        "quantity": facts["quantity"],
        "uom": facts["uom"],
        "stock_type_from": "blocked",
        "stock_type_to": "unrestricted" if movement == MOVEMENT_RELEASE else None,
        "movement_type": movement,
        "items": _items(facts),
    }


def ncr_created(facts):
    return {
        "ncr": facts["ncr"],
        "source": facts["source"],
        "description": facts["description"],
        "product_code": facts["product_code"],
        "lots": facts["lots"],
        "reported_by": facts["reported_by"],
        "created_at": stamp(facts["created_at"]),
    }


BUILDERS = {
    "quality.hold.placed": hold_placed,
    "quality.hold.released": hold_released,
    "quality.ncr.created": ncr_created,
}
