from odoo.addons.mfg_integration_base.services.errors import BusinessError
from odoo.addons.mfg_integration_base.services.handler_registry import moot_checks, registry


@registry.handler("mes.wip.snapshot", major=1)
def handle_wip_snapshot(env, event):
    """Keep the snapshot as the event's data: the ``mes_wip`` reconciliation reads the latest
    done one. A snapshot naming an order twice is ambiguous and refused."""
    seen, twice = set(), set()
    for order in event.payload["orders"]:
        reference = order["production_ref"]
        (twice if reference in seen else seen).add(reference)
    if twice:
        references = ", ".join(sorted(twice))
        raise BusinessError(
            "snapshot_duplicate_order",
            env._("The WIP snapshot lists order %(refs)s more than once", refs=references),
            suggested_action=env._(
                "Have the MES send one line per order; discard this snapshot (the next one "
                "replaces it)."
            ),
            key_fields={"orders": references},
        )


@moot_checks.check("mes.wip.snapshot", major=1)
def snapshot_superseded(env, failed_event, later_event):
    """A refused snapshot does not hold later ones back: each replaces the one before."""
    if later_event.event_type == "mes.wip.snapshot":
        return env._("a later WIP snapshot replaces this one")
    return None
