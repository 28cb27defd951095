from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("mes.scrap.reported", major=1)
def handle_scrap_reported(env, event):
    """Scrap the reported quantity (the order's product, or a component) against the order."""
    data = event.payload
    production = env["mrp.production"]._mes_open_order(data["production_ref"])
    product = (
        event._mes_product(data["product_code"])
        if data.get("product_code")
        else production.product_id
    )
    quantity = event._mes_quantity(data["qty"], data.get("uom"), product.uom_id, env._("The scrap"))
    lot = (
        # a lot of the order's product may be one it is producing; a component's must exist
        event._mes_lot(
            product, data["lot"], production.company_id, create=product == production.product_id
        )
        if data.get("lot")
        else env["stock.lot"]
    )
    reasons = env["stock.scrap.reason.tag"].search([("name", "=ilike", data["reason"])], limit=1)
    values = {
        "production_id": production.id,
        "product_id": product.id,
        "scrap_qty": quantity,
        "product_uom_id": product.uom_id.id,
        "lot_id": lot.id,
        "company_id": production.company_id.id,
        "origin": env._(
            "%(ref)s: %(reason)s (MES event %(uid)s)",
            ref=data["production_ref"],
            reason=data["reason"],
            uid=event.event_uid,
        ),
        "scrap_reason_tag_ids": [(6, 0, reasons.ids)],
    }
    if data.get("location"):
        values["location_id"] = event._mes_location(data["location"]).id
    scrap = env["stock.scrap"].create(values)
    scrap.do_scrap()
    return scrap
