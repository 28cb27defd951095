"""Quality holds: the lots the quality system holds (its latest snapshot) against Odoo's.

The external side is the latest ``quality.hold.snapshot`` event the rule's system sent within
the rule's window (processed, not shadow, data not purged). The Odoo side is what was held
when the snapshot was taken: holds placed by then and not ended before it (a hold placed or
released after the snapshot is not a difference yet).

One row per lot, ``<system>/<product>/<lot>``, 1 where held, compared exactly: a lot held on
one side only is missing on the other.
"""

from odoo import _

from odoo.addons.mfg_integration_base.reconciliations.snapshots import latest_snapshot, naive_utc
from odoo.addons.mfg_integration_base.services.reconciliation import Row, registry

SNAPSHOT_TYPE = "quality.hold.snapshot"


def held_at(env, moment):
    """{(product code, lot): hold} of the holds in force at ``moment``."""
    holds = env["mfg.quality.hold"].search(
        [
            ("placed_at", "<=", moment),
            "|",
            ("state", "=", "held"),
            ("released_at", ">", moment),
        ]
    )
    return {
        (hold.product_id.default_code or hold.product_id.display_name, hold.lot_id.name): hold
        for hold in holds
    }


@registry.kind("quality_holds", "Quality holds: quality system vs Odoo")
def compare_quality_holds(rule, start, end):
    snapshot = latest_snapshot(rule, SNAPSHOT_TYPE, _("hold snapshot"), start, end)
    taken_at = naive_utc(snapshot.payload["taken_at"])
    external = {(line["product_code"], line["lot"]) for line in snapshot.payload["holds"]}
    odoo = held_at(rule.env, taken_at)
    prefix = rule.system_id.code
    for product_code, lot in sorted(external | set(odoo)):
        yield Row(
            key=f"{prefix}/{product_code}/{lot}",
            odoo_value=1.0 if (product_code, lot) in odoo else None,
            external_value=1.0 if (product_code, lot) in external else None,
            label=_("Lot %(lot)s of %(product)s on hold", lot=lot, product=product_code),
            exact=True,
        )
