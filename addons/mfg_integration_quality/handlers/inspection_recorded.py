from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("quality.inspection.recorded", major=1)
def handle_inspection_recorded(env, event):
    """Record the result as a quality check on the lot. The quality point's limits are the
    specification: a value outside them fails even if the sender said pass. A failed check
    of a critical point (or one the sender marks critical) puts the lot on hold at once.

    Sent again under a new event id, the same result (lot, characteristic, time, value)
    returns the check already recorded: nothing is counted twice.
    """
    data = event.payload
    product = event._quality_product(data["product_code"])
    lot = event._quality_lot(product, data["lot"])
    production = env["mrp.production"]
    if data.get("production_ref"):
        production = production.search([("name", "=", data["production_ref"])], limit=1)
    workorder = production.workorder_ids.filtered(lambda w: w.name == data.get("operation"))[:1]
    point = env["mfg.quality.point"]._find(
        product, data["characteristic"], workorder.operation_id or None
    )
    value = data.get("value")
    result = data["result"]
    if point and point._within_tolerance(value) is False:
        result = "fail"
    checked_at = event.occurred_at or event.received_at
    Check = env["mfg.quality.check"]
    same = Check.search(
        [
            ("lot_id", "=", lot.id),
            ("characteristic", "=", data["characteristic"]),
            ("checked_at", "=", checked_at),
            ("system_id", "=", event.system_id.id),
            ("result", "=", result),
        ]
    ).filtered(lambda check: check.has_measure == (value is not None))
    if value is not None:
        same = same.filtered(lambda check: abs(check.measured_value - value) < 1e-9)
    if same:
        return same[0]
    lower = data.get("lower_limit")
    upper = data.get("upper_limit")
    if point and point.test_type == "measure":
        lower = point.tolerance_min if lower is None else lower
        upper = point.tolerance_max if upper is None else upper
    return Check.create(
        {
            "point_id": point.id,
            "product_id": product.id,
            "lot_id": lot.id,
            "production_id": production.id,
            "workorder_id": workorder.id,
            "characteristic": data["characteristic"],
            "result": result,
            "has_measure": value is not None,
            "measured_value": value or 0.0,
            "unit": data.get("unit") or point.unit,
            "lower_limit": lower or 0.0,
            "upper_limit": upper or 0.0,
            "critical": bool(point.critical or data.get("critical")),
            "inspector": data.get("inspector"),
            "system_id": event.system_id.id,
            "event_id": event.id,
            "checked_at": checked_at,
        }
    )
