from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import moot_checks, registry


@registry.handler("quality.hold.snapshot", major=1)
def handle_hold_snapshot(env, event):
    """Keep the snapshot as the event's data: the ``quality_holds`` reconciliation reads the
    latest done one. A snapshot naming a lot twice is ambiguous and refused."""
    seen, twice = set(), set()
    for hold in event.payload["holds"]:
        key = (hold["product_code"], hold["lot"])
        (twice if key in seen else seen).add(key)
    if twice:
        lots = ", ".join(sorted(f"{code}/{lot}" for code, lot in twice))
        raise BusinessError(
            "snapshot_duplicate_lot",
            env._("The hold snapshot lists lot %(lots)s more than once", lots=lots),
            suggested_action=env._(
                "Have the quality system send one line per lot; discard this snapshot (the "
                "next one replaces it)."
            ),
            key_fields={"lots": lots},
        )


@moot_checks.check("quality.hold.snapshot", major=1)
def snapshot_superseded(env, failed_event, later_event):
    """A refused snapshot does not hold later ones back: each replaces the one before."""
    if later_event.event_type == "quality.hold.snapshot":
        return env._("a later hold snapshot replaces this one")
    return None
