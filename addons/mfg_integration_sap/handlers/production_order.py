from datetime import UTC

from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..models.mrp_production import OPEN_STATES
from ..services.odata.values import parse_sap_date
from .common import decimal_quantity, resolve_product, resolve_unit


@registry.handler("sap.productionorder.released", major=1)
def handle_production_order(env, event):
    """Create the manufacturing order of an SAP production order, or bring the open order of
    its chain (the original and its backorders) to SAP's quantity and dates. Only while the
    system is the system of record for manufacturing orders."""
    data = event.payload
    system = event.system_id
    number = data["ManufacturingOrder"]
    env["mfg.integration.record.kind"]._check_inbound_update(
        "manufacturing_order", system, env._("SAP production order %(order)s", order=number)
    )
    key_fields = {"order": number}
    product = resolve_product(env, system, data["Material"])
    unit = resolve_unit(env, system, data["ProductionUnit"], product.uom_id)
    quantity = decimal_quantity(data["TotalQuantity"], f"order {number}'s quantity", key_fields)
    Production = env["mrp.production"].with_context(sap_inbound=True)
    chain = Production.search(
        [("sap_order_number", "=", number), ("sap_system_id", "=", system.id)], order="id"
    )
    dates = _planned_dates(data)
    if not chain:
        bom = env["mrp.bom"]._bom_find(product, bom_type="normal")[product]
        values = {
            "product_id": product.id,
            "product_qty": quantity,
            "product_uom_id": unit.id,
            "bom_id": bom.id or False,
            "origin": f"SAP {number}",
            "sap_order_number": number,
            "sap_system_id": system.id,
            "sap_operation": data.get("ManufacturingOrderOperation") or False,
            **dates,
        }
        production = Production.create(values)
        if data.get("OrderIsReleased", True):
            production.action_confirm()
        return production
    if chain[0].product_id != product:
        raise BusinessError(
            "order_product_changed",
            env._(
                "SAP order %(order)s now makes %(material)s, but Odoo's order %(name)s makes "
                "%(product)s: an order's product cannot change once it exists",
                order=number,
                material=data["Material"],
                name=chain[0].name,
                product=chain[0].product_id.display_name,
            ),
            suggested_action=env._(
                "Cancel the order in Odoo and let the next pull create it again, or restore "
                "the material in SAP; then retry."
            ),
            key_fields=key_fields,
        )
    production = chain.filtered(lambda p: p.state in ("draft", *OPEN_STATES))[-1:]
    if not production:
        made = sum(p.product_uom_id._compute_quantity(p.qty_produced, unit) for p in chain)
        if quantity <= made + unit.rounding:
            # SAP's own follow-up of an order Odoo completed (the confirmations posted, its
            # status moved): nothing to change in Odoo
            return chain[-1]
        raise BusinessError(
            "order_closed",
            env._(
                "SAP changed order %(order)s, which is already closed in Odoo (%(states)s)",
                order=number,
                states=", ".join(sorted(set(chain.mapped("state")))),
            ),
            suggested_action=env._(
                "Compare the order in SAP and Odoo; if production must continue, create a new "
                "order in SAP. Otherwise discard this event."
            ),
            key_fields=key_fields,
        )
    done = sum(p.product_uom_id._compute_quantity(p.qty_produced, unit) for p in chain - production)
    remaining = quantity - done
    if remaining <= 0:
        raise BusinessError(
            "order_quantity_below_done",
            env._(
                "SAP lowered order %(order)s to %(qty)s, but Odoo already produced %(done)s",
                order=number,
                qty=quantity,
                done=done,
            ),
            suggested_action=env._("Correct the quantity in SAP, then retry."),
            key_fields=key_fields,
        )
    if data.get("ManufacturingOrderOperation"):
        chain.write({"sap_operation": data["ManufacturingOrderOperation"]})
    if production.state == "draft":
        production.write({"product_qty": remaining, "product_uom_id": unit.id, **dates})
        if data.get("OrderIsReleased"):
            production.action_confirm()  # SAP released it since the last pull
    else:
        if production.product_uom_id._compute_quantity(production.product_qty, unit) != remaining:
            wizard = env["change.production.qty"].with_context(sap_inbound=True)
            wizard.create(
                {
                    "mo_id": production.id,
                    "product_qty": unit._compute_quantity(remaining, production.product_uom_id),
                }
            ).change_prod_qty()
        if dates and production.state == "confirmed":
            production.write(dates)
    return production


def _planned_dates(data):
    dates = {}
    for field_name, name in (
        ("date_start", "MfgOrderPlannedStartDate"),
        ("date_finished", "MfgOrderPlannedEndDate"),
    ):
        if data.get(name):
            dates[field_name] = parse_sap_date(data[name]).astimezone(UTC).replace(tzinfo=None)
    if (
        dates.get("date_start")
        and dates.get("date_finished", dates["date_start"]) <= dates["date_start"]
    ):
        dates.pop("date_finished", None)
    return dates
