"""MES work in progress: the MES's latest WIP snapshot against Odoo's orders.

The external side is the latest ``mes.wip.snapshot`` event the rule's system sent within the
rule's window (processed, not shadow, data not purged); the Odoo side is, per MES order
reference, the order and its backorders (the chain sharing ``mes_order_ref``).

Three rows per order:

* ``<system>/<ref>/state``: the order's state, compared exactly (never within tolerance).
  Odoo's chain maps to the MES's words: every order cancelled -> cancelled; an order still
  open (confirmed, in progress, to close) -> running if anything was produced or started
  (an order in progress or to close, or an earlier part of the chain done), else released;
  nothing open and something done -> completed; only drafts -> not released.
* ``<system>/<ref>/qty_produced``: done orders' produced quantity plus what the open order is
  producing (the MES's progress counts), in the order's unit, with the rule's tolerance.
* ``<system>/<ref>/qty_scrapped``: done scraps of the order's product on the chain's orders.

An order in the snapshot that Odoo does not know is missing in Odoo; an order still open in
Odoo, released before the snapshot was taken, that the snapshot lacks is missing in the MES.
Orders closed in Odoo and gone from the snapshot are not compared (the MES forgot them).
"""

from collections import defaultdict

from odoo import _

from odoo.addons.mfg_integration_base.reconciliations.snapshots import latest_snapshot, naive_utc
from odoo.addons.mfg_integration_base.services.reconciliation import Row, registry

from ..models.mrp_production import OPEN_STATES

SNAPSHOT_TYPE = "mes.wip.snapshot"
# states as numbers, for the exact state row: equal codes are the same state
STATE_CODES = {"released": 1, "running": 2, "completed": 3, "cancelled": 4, "not released": 5}


def chain_state(chain):
    """The MES word for the state of an order chain (see the module's docstring)."""
    states = set(chain.mapped("state"))
    if states <= {"cancel"}:
        return "cancelled"
    if states & set(OPEN_STATES):
        return "running" if states & {"progress", "to_close", "done"} else "released"
    if "done" in states:
        return "completed"
    return "not released"


def odoo_chains(env, references, taken_at):
    """{reference: orders of its chain} for the snapshot's references and the chains still
    open in Odoo that were released by ``taken_at``."""
    Production = env["mrp.production"]
    productions = Production.search(
        [
            ("mes_order_ref", "!=", False),
            "|",
            ("mes_order_ref", "in", list(references)),
            ("state", "in", OPEN_STATES),
        ],
        order="id",
    )
    # the whole chain of each open order, even its parts closed long ago
    productions |= Production.search(
        [("mes_order_ref", "in", list(set(productions.mapped("mes_order_ref")) - references))],
        order="id",
    )
    chains = defaultdict(Production.browse)
    for production in productions:
        chains[production.mes_order_ref] |= production
    # orders confirmed before orders had a reference are known by their name
    unnamed = references - chains.keys()
    if unnamed:
        for production in Production.search(
            [("name", "in", list(unnamed)), ("mes_order_ref", "=", False), ("state", "!=", "draft")]
        ):
            chains[production.name] |= production
    return {
        reference: chain
        for reference, chain in chains.items()
        if reference in references
        or (
            chain_state(chain) in ("released", "running")
            and min(chain.mapped("create_date")) <= taken_at
        )
    }


def chain_quantities(env, chains):
    """{reference: (produced, scrapped)} in the unit of each chain's first order."""
    Scrap = env["stock.scrap"]
    all_orders = env["mrp.production"].browse(
        [production.id for chain in chains.values() for production in chain]
    )
    scraps = defaultdict(Scrap.browse)
    for scrap in Scrap.search([("production_id", "in", all_orders.ids), ("state", "=", "done")]):
        scraps[scrap.production_id.id] |= scrap
    result = {}
    for reference, chain in chains.items():
        unit = chain[0].product_uom_id
        produced = scrapped = 0.0
        for production in chain:
            if production.state == "done":
                quantity = production.qty_produced
            elif production.state in OPEN_STATES:
                quantity = production.qty_producing
            else:
                quantity = 0.0
            produced += production.product_uom_id._compute_quantity(quantity, unit)
            for scrap in scraps[production.id]:
                if scrap.product_id == production.product_id:
                    scrapped += scrap.product_uom_id._compute_quantity(scrap.scrap_qty, unit)
        result[reference] = (produced, scrapped)
    return result


@registry.kind("mes_wip", "MES work in progress (state and quantities per order)")
def compare_mes_wip(rule, start, end):
    """Per order of the latest WIP snapshot (and each open order the snapshot lacks): the
    state, the quantity produced and the quantity scrapped, MES against Odoo."""
    event = latest_snapshot(rule, SNAPSHOT_TYPE, _("WIP snapshot"), start, end)
    snapshot = {order["production_ref"]: order for order in event.payload["orders"]}
    taken_at = naive_utc(event.payload["taken_at"])
    env = rule.env
    chains = odoo_chains(env, set(snapshot), taken_at)
    quantities = chain_quantities(env, chains)
    code = rule.system_id.code
    for reference in sorted(snapshot.keys() | chains.keys()):
        mes = snapshot.get(reference)
        chain = chains.get(reference)
        odoo_state = chain_state(chain) if chain else None
        mes_state = mes["state"] if mes else None
        produced, scrapped = quantities.get(reference, (None, None))
        yield Row(
            key=f"{code}/{reference}/state",
            odoo_value=STATE_CODES[odoo_state] if odoo_state else None,
            external_value=STATE_CODES[mes_state] if mes_state else None,
            label=_(
                "%(ref)s state (Odoo: %(odoo)s, MES: %(mes)s)",
                ref=reference,
                odoo=odoo_state or "-",
                mes=mes_state or "-",
            ),
            exact=True,
        )
        yield Row(
            key=f"{code}/{reference}/qty_produced",
            odoo_value=produced,
            external_value=mes["qty_produced"] if mes else None,
            label=_("%(ref)s quantity produced", ref=reference),
        )
        yield Row(
            key=f"{code}/{reference}/qty_scrapped",
            odoo_value=scrapped,
            external_value=mes["qty_scrapped"] if mes else None,
            label=_("%(ref)s quantity scrapped", ref=reference),
        )
