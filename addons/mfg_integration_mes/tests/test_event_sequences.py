"""Property: MES events delivered in batches, shuffled within a batch and partly sent twice,
leave the same MRP state as the same events applied once each, in order."""

import uuid
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue, utc_stamp

from .common import MesCase

PLANNED = {"PLT": 6, "BRK": 4}


class Rollback(Exception):
    """Raised to undo one run of the examples' events."""


@st.composite
def order_steps(draw, product_code):
    """One order's MES reports, in the order the MES sends them."""
    planned = PLANNED[product_code]
    steps = [("mes.workorder.started", {"product_code": product_code, "qty_planned": planned})]
    produced = 0
    for _index in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["progress", "consume", "scrap", "partial"]))
        if kind == "progress":
            qty_done = produced + draw(st.integers(0, 3))  # may overshoot: an exception
            steps.append(("mes.production.progress", {"qty_done": qty_done}))
        elif kind == "consume":
            qty = draw(st.integers(1, 3))
            steps.append(
                ("mes.material.consumed", {"product_code": "STL", "qty": qty, "lot": "S-1"})
            )
        elif kind == "scrap":
            steps.append(
                ("mes.scrap.reported", {"product_code": "SCR", "qty": 1, "reason": "DENT"})
            )
        elif planned - produced > 1:
            qty = draw(st.integers(1, min(2, planned - produced - 1)))
            produced += qty
            steps.append(("mes.production.completed", {"qty": qty}))
    qty = draw(st.integers(1, planned - produced))
    steps.append(("mes.production.completed", {"qty": qty, "final": True}))
    return steps


@st.composite
def deliveries(draw):
    """(events in the MES's order, batches of indexes into them as they arrive)."""
    per_order = [draw(order_steps("PLT")), draw(order_steps("BRK"))]
    tags = [order for order, steps in enumerate(per_order) for _step in steps]
    interleaving = draw(st.permutations(tags))
    cursors = [0, 0]
    events = []
    for order in interleaving:
        event_type, data = per_order[order][cursors[order]]
        cursors[order] += 1
        events.append((order, event_type, dict(data)))
    cuts = sorted(draw(st.sets(st.integers(1, len(events) - 1), max_size=3)))
    bounds = list(zip([0, *cuts], [*cuts, len(events)], strict=True))
    batches = []
    for start, end in bounds:
        batch = list(range(start, end))
        batch += draw(st.lists(st.integers(0, end - 1), max_size=2))  # sent twice
        batches.append(draw(st.permutations(batch)))
    return events, batches


@tagged("post_install", "-at_install")
class TestEventSequences(MesCase):
    def run_events(self, events, batches):
        """Create the orders, deliver ``batches`` of ``events``, and describe what results."""
        orders = [self.order(self.plate, PLANNED["PLT"]), self.order(self.bracket, PLANNED["BRK"])]
        lots = Counter()
        envelopes = []
        for position, (order, event_type, reported) in enumerate(events):
            data = dict(reported, production_ref=orders[order].mes_order_ref)
            if event_type == "mes.production.completed" and order == 1:
                lots[order] += 1
                data["lots"] = [{"lot": f"B-{lots[order]}", "qty": data["qty"]}]
            envelopes.append(
                {
                    "specversion": "1.0",
                    "id": str(uuid.uuid4()),
                    "source": "plant/mes",
                    "type": event_type,
                    "time": utc_stamp(),
                    "subject": data["production_ref"],
                    "sequence": f"{position + 1:012d}",
                    "data": data,
                }
            )
        for batch in batches:
            queue = JobQueue(self.env)
            self.Event._ingest(self.system, [envelopes[index] for index in batch])
            queue.perform_all(immediate_only=True)
        return self.describe(orders, [envelope["id"] for envelope in envelopes])

    def describe(self, orders, event_ids):
        self.env.invalidate_all()
        chains = []
        for production in orders:
            chains.append(
                [
                    (
                        mo.state,
                        mo.product_qty,
                        mo.qty_produced,
                        mo.lot_producing_id.name or "",
                        sorted(
                            (line.product_id.default_code, line.lot_id.name or "", line.quantity)
                            for line in mo.move_raw_ids.move_line_ids
                        ),
                        sorted(
                            (scrap.product_id.default_code, scrap.scrap_qty, scrap.state)
                            for scrap in self.env["stock.scrap"].search(
                                [("production_id", "=", mo.id)]
                            )
                        ),
                    )
                    for mo in self.chain(production)
                ]
            )
        quants = self.env["stock.quant"].search(
            [
                ("product_id", "in", (self.steel | self.screw | self.plate | self.bracket).ids),
                ("location_id.usage", "=", "internal"),
            ]
        )
        stock = sorted(
            (quant.product_id.default_code, quant.lot_id.name or "", quant.quantity)
            for quant in quants
            if quant.quantity
        )
        events = self.Event.search([("event_uid", "in", event_ids)])
        outcomes = sorted(
            Counter((e.event_type, e.state, e.error_code or "") for e in events).items()
        )
        return chains, stock, outcomes

    def in_rollback(self, function, *args):
        try:
            with self.env.cr.savepoint():
                result = function(*args)
                raise Rollback
        except Rollback:
            pass
        self.env.invalidate_all()
        return result

    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(deliveries())
    def test_batches_duplicates_and_shuffles_change_nothing(self, delivery):
        events, batches = delivery
        once_in_order = [[index] for index in range(len(events))]
        expected = self.in_rollback(self.run_events, events, once_in_order)
        actual = self.in_rollback(self.run_events, events, batches)
        self.assertEqual(actual, expected)
        chains, _stock, outcomes = expected
        # unless a report was refused (and what follows it waits), every order ends closed by
        # its final report: the comparison is about real effects
        if not any(state == "failed" for (_type, state, _code), _count in outcomes):
            self.assertEqual([chain[-1][0] for chain in chains], ["done", "done"])
