"""CMMS maintenance cost: the CMMS's latest cost snapshot against the requests' costs in Odoo.

The external side is the latest ``cmms.cost.snapshot`` event the rule's system sent within the
rule's window (processed, not shadow, data not purged); the Odoo side is, per work order, the
request of that system with that work order number.

Two rows per work order, with the rule's tolerances (amounts in the company's currency):

* ``<system>/<work order>/labour_cost``: the CMMS's hours at the equipment's rate.
* ``<system>/<work order>/parts_cost``: the spare parts consumed, at their cost when posted.

A work order in the snapshot that Odoo does not know is missing in Odoo; a request of the
system completed in Odoo before the snapshot was taken that the snapshot lacks is missing in
the CMMS. Requests still open and absent from the snapshot are not compared (no cost yet).
"""

from odoo import _

from odoo.addons.mfg_integration_base.reconciliations.snapshots import latest_snapshot, naive_utc
from odoo.addons.mfg_integration_base.services.reconciliation import Row, registry

SNAPSHOT_TYPE = "cmms.cost.snapshot"


def odoo_requests(env, system, references, taken_at):
    """{work order number: request} for the snapshot's work orders and the system's requests
    completed by ``taken_at``."""
    found = env["maintenance.request"].search(
        [
            ("cmms_system_id", "=", system.id),
            "|",
            ("cmms_ref", "in", list(references)),
            "&",
            ("stage_id.done", "=", True),
            ("close_date", "<=", taken_at.date()),
        ]
    )
    return {request.cmms_ref: request for request in found}


@registry.kind("cmms_cost", "CMMS maintenance cost (labour and parts per work order)")
def compare_cmms_cost(rule, start, end):
    """Per work order of the latest cost snapshot (and each completed request it lacks): the
    labour cost and the parts cost, CMMS against Odoo."""
    event = latest_snapshot(rule, SNAPSHOT_TYPE, _("cost snapshot"), start, end)
    snapshot = {line["workorder_ref"]: line for line in event.payload["workorders"]}
    taken_at = naive_utc(event.payload["taken_at"])
    by_reference = odoo_requests(rule.env, rule.system_id, set(snapshot), taken_at)
    code = rule.system_id.code
    for reference in sorted(snapshot.keys() | by_reference.keys()):
        cmms = snapshot.get(reference)
        request = by_reference.get(reference)
        for field, label in (
            ("labour_cost", _("%(ref)s labour cost", ref=reference)),
            ("parts_cost", _("%(ref)s parts cost", ref=reference)),
        ):
            yield Row(
                key=f"{code}/{reference}/{field}",
                odoo_value=request[field] if request else None,
                external_value=cmms[field] if cmms else None,
                label=label,
            )
