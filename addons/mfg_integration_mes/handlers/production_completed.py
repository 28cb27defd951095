from odoo.exceptions import UserError

from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import registry

from ..services.production_rules import completion_steps


@registry.handler("mes.production.completed", major=1)
def handle_production_completed(env, event):
    """Mark done the reported quantity of the order, one lot (or serial) at a time.

    A partial report leaves Odoo's backorder for the rest (it keeps the MES reference, so the
    next report lands on it); a final one closes the order. Components the MES did not report
    are backflushed per BoM line. Re-running after a technical retry is safe: the framework
    rolls the whole handler back first.
    """
    data = event.payload
    reference = data["production_ref"]
    Production = env["mrp.production"]
    production = Production._mes_open_order(reference)
    product, uom = production.product_id, production.product_uom_id
    what = env._("The quantity produced")
    quantity = event._mes_quantity(data["qty"], data.get("uom"), uom, what)
    entries = [
        (entry["lot"], event._mes_quantity(entry["qty"], data.get("uom"), uom, env._("A lot")))
        for entry in data.get("lots") or []
    ]
    if not entries and data.get("lot"):
        entries = [(data["lot"], quantity)]
    _check_lots(production, reference, quantity, entries)
    production._mes_check_overproduction(quantity, reference)
    for lot_name, step_quantity, close in completion_steps(
        entries, quantity, production.product_qty, data.get("final", False)
    ):
        production = Production._mes_open_order(reference)
        if lot_name:
            production.lot_producing_id = event._mes_lot(
                product, lot_name, production.company_id, create=True
            )
        production.qty_producing = step_quantity
        production._set_qty_producing()
        _mark_done(production, reference, backorder=not close)
    return production


def _check_lots(production, reference, quantity, entries):
    product = production.product_id
    problem = None
    if product.tracking != "none" and not entries:
        problem = production.env._("it does not name the lot or serial number produced")
    elif entries and abs(sum(q for _lot, q in entries) - quantity) > 1e-6:
        problem = production.env._("its lots add up to another quantity than the one reported")
    elif product.tracking == "serial" and any(q != 1 for _lot, q in entries):
        problem = production.env._("a serial number must be reported with a quantity of 1")
    if problem:
        raise BusinessError(
            "lot_required",
            production.env._(
                "The completion of order %(ref)s (%(product)s, tracked by %(tracking)s) cannot "
                "be booked: %(problem)s",
                ref=reference,
                product=product.display_name,
                tracking=product.tracking,
                problem=problem,
            ),
            suggested_action=production.env._("Correct the lots in the event's data, then retry."),
            key_fields={"order": reference},
        )


def _mark_done(production, reference, backorder):
    translate = production.env._
    context = {
        "skip_backorder": True,
        "mo_ids_to_backorder": production.ids if backorder else [],
        "skip_consumption": True,
        "skip_redirection": True,
        "mes_no_change_event": True,
    }
    try:
        result = production.with_context(**context).button_mark_done()
    except UserError as error:
        raise BusinessError(
            "completion_refused",
            translate(
                "Odoo refused to complete order %(ref)s: %(error)s", ref=reference, error=error
            ),
            suggested_action=translate("Fix what Odoo names on the order, then retry."),
            key_fields={"order": reference},
        ) from error
    if result is not True and not (
        isinstance(result, dict) and result.get("tag") == "do_multi_print"
    ):
        raise BusinessError(
            "completion_refused",
            translate("Order %(ref)s needs a person's decision to be completed", ref=reference),
            suggested_action=translate("Complete the order in Odoo, then discard this event."),
            key_fields={"order": reference},
        )
