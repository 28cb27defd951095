from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.logistics_messages import digest, duplicates, naive_utc

# Sales order states in which a CRM change may still update the order (a quotation).
CHANGEABLE_STATES = ("draft", "sent")


def line_values(env, event, entry):
    """sale.order.line values of one CRM line (product, quantity and unit through the
    CRM's mappings)."""
    product = event._logistics_product(entry["product_code"])
    values = {
        "crm_line_ref": entry["line_id"],
        "product_id": product.id,
        "product_uom_qty": entry["qty"],
        "product_uom": product.uom_id.id,
    }
    if entry.get("uom"):
        uom = event._map("uom", entry["uom"])
        if uom.category_id != product.uom_id.category_id:
            # the same exception the quantity conversion raises, with its fix
            event._logistics_quantity(entry["qty"], entry["uom"], product, env._("The order"))
        values["product_uom"] = uom.id
    if entry.get("unit_price") is not None:
        values["price_unit"] = entry["unit_price"]
    return values


@registry.handler("crm.order.placed", major=1)
def handle_order_placed(env, event):
    """One sales order per CRM order id: created as a quotation; the same data sent again
    changes nothing; a change updates the quotation, or is refused once sales confirmed it."""
    data = event.payload
    system = event.system_id
    SaleOrder = env["sale.order"]
    order = SaleOrder.search(
        [("crm_system_id", "=", system.id), ("crm_order_ref", "=", data["order_id"])], limit=1
    )
    data_digest = digest(data)
    if order and order.crm_data_hash == data_digest:
        return order  # sent again unchanged
    twice = duplicates(entry["line_id"] for entry in data["lines"])
    if twice:
        raise BusinessError(
            "order_duplicate_line",
            env._(
                "CRM order %(ref)s has line %(lines)s more than once",
                ref=data["order_id"],
                lines=", ".join(twice),
            ),
            suggested_action=env._("Have the CRM send each line id once; correct and retry."),
            key_fields={"order": data["order_id"]},
        )
    partner = event._map("partner", data["customer_code"])
    lines = [line_values(env, event, entry) for entry in data["lines"]]
    header = {
        "partner_id": partner.id,
        "client_order_ref": data.get("customer_ref") or False,
        "commitment_date": naive_utc(data.get("requested_date")) or False,
        "crm_data_hash": data_digest,
    }
    if data.get("note"):
        header["note"] = data["note"]
    if not order:
        return SaleOrder.create(
            dict(
                header,
                crm_system_id=system.id,
                crm_order_ref=data["order_id"],
                origin=data["order_id"],
                order_line=[(0, 0, values) for values in lines],
            )
        )
    subject = env._(
        "sales order %(name)s (CRM order %(ref)s)", name=order.name, ref=data["order_id"]
    )
    env["mfg.integration.record.kind"]._check_inbound_update("sales_order", system, subject)
    if order.state not in CHANGEABLE_STATES:
        state = dict(order._fields["state"].selection).get(order.state)
        raise BusinessError(
            "order_confirmed",
            env._(
                "The CRM changed order %(ref)s, but %(name)s is already %(state)s in Odoo: "
                "the change was not applied",
                ref=data["order_id"],
                name=order.name,
                state=state,
            ),
            suggested_action=env._(
                "Agree the change with sales: apply it to %(name)s in Odoo by hand (or cancel "
                "and re-quote), then discard this event.",
                name=order.name,
            ),
            key_fields={"order": data["order_id"]},
        )
    existing = {line.crm_line_ref: line for line in order.order_line if line.crm_line_ref}
    commands = []
    for values in lines:
        line = existing.pop(values["crm_line_ref"], None)
        commands.append((1, line.id, values) if line else (0, 0, values))
    commands += [(2, line.id) for line in existing.values()]
    order.write(dict(header, order_line=commands))
    order.message_post(
        body=env._(
            "Updated from %(system)s (event %(uid)s).", system=system.name, uid=event.event_uid
        )
    )
    return order
