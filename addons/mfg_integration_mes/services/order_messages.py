"""Outbound MES order messages (released, changed, cancelled) built from plain order facts."""


def _stamp(value):
    """RFC 3339 UTC of a naive UTC datetime (Odoo's), or None."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _without_none(values):
    return {key: value for key, value in values.items() if value is not None}


def released(facts):
    """mes.order.released: everything the MES needs to schedule and run the order."""
    return _without_none(
        {
            "production_ref": facts["ref"],
            "product_code": facts["product_code"],
            "product_name": facts["product_name"],
            "qty": facts["qty"],
            "uom": facts["uom"],
            "date_planned_start": _stamp(facts["date_start"]),
            "date_planned_finished": _stamp(facts["date_finished"]),
            "lot_tracking": facts["tracking"],
            "components": facts["components"],
            "operations": facts["operations"],
        }
    )


def changed(facts):
    """mes.order.changed: the quantity and dates the order has now."""
    return _without_none(
        {
            "production_ref": facts["ref"],
            "qty": facts["qty"],
            "uom": facts["uom"],
            "date_planned_start": _stamp(facts["date_start"]),
            "date_planned_finished": _stamp(facts["date_finished"]),
        }
    )


def cancelled(facts):
    """mes.order.cancelled: the MES stops the order."""
    return {"production_ref": facts["ref"]}


def closed(facts):
    """mes.order.closed: a person completed the order in Odoo; the MES stops it."""
    return _without_none(
        {
            "production_ref": facts["ref"],
            "qty_produced": facts["qty_produced"],
            "uom": facts["uom"],
            "closed_by": facts["closed_by"],
        }
    )


BUILDERS = {
    "mes.order.released": released,
    "mes.order.changed": changed,
    "mes.order.cancelled": cancelled,
    "mes.order.closed": closed,
}
