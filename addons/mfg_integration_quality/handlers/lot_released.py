from odoo.addons.mfg_integration_base.services.errors import PrerequisiteMissing
from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("quality.lot.released", major=1)
def handle_lot_released(env, event):
    """Release the lot's hold with the disposition given (use as is by default).

    No hold in force: a hold ended since the release was decided makes this a repeat
    (nothing to do); none at all means the hold has not arrived yet: the release waits.
    """
    data = event.payload
    product = event._quality_product(data["product_code"])
    lot = event._quality_lot(product, data["lot"])
    env["mfg.integration.record.kind"]._check_inbound_update(
        "quality_hold", event.system_id, env._("the hold of lot %s", lot.display_name)
    )
    Hold = env["mfg.quality.hold"]
    hold = Hold.search([("lot_id", "=", lot.id), ("state", "=", "held")], limit=1)
    if not hold:
        decided = event.occurred_at or event.received_at
        ended = Hold.search(
            [("lot_id", "=", lot.id), ("state", "!=", "held"), ("placed_at", "<=", decided)],
            order="released_at desc",
            limit=1,
        )
        if ended:
            return ended
        raise PrerequisiteMissing(
            env._("Lot %(lot)s is not on hold: its hold has not arrived yet", lot=lot.name),
            key_fields={"lot": lot.name},
        )
    note = env._(
        "Released by %(system)s%(ncr)s",
        system=event.system_id.name,
        ncr=env._(" (NCR %s)", data["ncr"]) if data.get("ncr") else "",
    )
    hold._release(data.get("disposition") or "use_as_is", note=note, event=event)
    return hold
