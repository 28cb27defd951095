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
from odoo.exceptions import UserError

from odoo.addons.mfg_integration_base.services.reconciliation import Row, registry
from odoo.addons.mfg_integration_mes.reconciliations.mes_wip import naive_utc

SNAPSHOT_TYPE = "cmms.cost.snapshot"


def latest_snapshot(rule, start, end):
    """The newest usable snapshot event of the rule's system in [start, end), or an error."""
    event = rule.env["mfg.integration.event"].search(
        [
            ("system_id", "=", rule.system_id.id),
            ("direction", "=", "inbound"),
            ("event_type", "=", SNAPSHOT_TYPE),
            ("state", "=", "done"),
            ("shadow", "=", False),
            ("payload_purged", "=", False),
            ("occurred_at", ">=", start),
            ("occurred_at", "<", end),
        ],
        order="occurred_at desc, id desc",
        limit=1,
    )
    if not event:
        raise UserError(
            _(
                "%(system)s sent no cost snapshot (%(type)s) between %(start)s and %(end)s: "
                "nothing to compare.",
                system=rule.system_id.name,
                type=SNAPSHOT_TYPE,
                start=start,
                end=end,
            )
        )
    return event


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
    event = latest_snapshot(rule, start, end)
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
