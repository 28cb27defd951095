from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("quality.lot.held", major=1)
def handle_lot_held(env, event):
    """Put the lot on hold: its stock goes to quarantine, the other systems hear it. A lot
    already held keeps its one hold (a hold sent twice is noted, not doubled); a hold request
    older than the lot's last release (sent again, or overtaken) leaves the lot released."""
    data = event.payload
    product = event._quality_product(data["product_code"])
    lot = event._quality_lot(product, data["lot"])
    env["mfg.integration.record.kind"]._check_inbound_update(
        "quality_hold", event.system_id, env._("the hold of lot %s", lot.display_name)
    )
    ncr = env["mfg.quality.ncr"]
    reason = data["reason"]
    if data.get("ncr"):
        ncr = ncr.search([("name", "=", data["ncr"])], limit=1)
        if not ncr:
            reason = env._("%(reason)s (NCR %(ncr)s)", reason=reason, ncr=data["ncr"])
    return env["mfg.quality.hold"]._place(
        lot,
        reason,
        origin=event.system_id,
        event=event,
        ncr=ncr,
        decided_at=event.occurred_at or event.received_at,
    )
