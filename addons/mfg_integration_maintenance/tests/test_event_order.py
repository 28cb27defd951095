"""The same CMMS events duplicated or delivered out of order leave the same end state as
the events applied once each, in order."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue

from .common import CmmsCase

# Events in the scenario (see TestEventOrder.scenario).
SCENARIO_LENGTH = 6


class Rollback(Exception):
    """Raised to undo one delivery of the scenario's events."""


@st.composite
def deliveries(draw):
    """Batches of indexes into the scenario's events: every event at least once, some twice,
    in any order, cut into one to three batches."""
    order = draw(st.permutations(range(SCENARIO_LENGTH)))
    twice = draw(st.lists(st.integers(0, SCENARIO_LENGTH - 1), max_size=3))
    sent = draw(st.permutations(list(order) + twice))
    cuts = sorted(draw(st.sets(st.integers(1, len(sent) - 1), max_size=2)))
    bounds = zip([0, *cuts], [*cuts, len(sent)], strict=True)
    return [sent[start:end] for start, end in bounds]


@tagged("post_install", "-at_install")
class TestEventOrder(CmmsCase):
    expected = None

    def scenario(self):
        """A preventive order's events as the CMMS sent them, oldest first."""
        steps = [
            ("cmms.workorder.created", {
                "workorder_ref": "WO-7", "title": "Bearings", "maintenance_type": "preventive",
                "equipment": "EQ-M1", "technician": "tess"}),
            ("cmms.part.reserved", {
                "workorder_ref": "WO-7", "reservation_ref": "R-1", "part_code": "BRG",
                "qty": 3}),
            ("cmms.part.reserved", {
                "workorder_ref": "WO-7", "reservation_ref": "R-2", "part_code": "FLT",
                "qty": 1}),
            ("cmms.part.consumed", {
                "workorder_ref": "WO-7", "consumption_ref": "C-1", "part_code": "BRG",
                "qty": 2}),
            ("cmms.part.consumed", {
                "workorder_ref": "WO-7", "consumption_ref": "C-2", "part_code": "FLT",
                "qty": 1}),
            ("cmms.workorder.completed", {"workorder_ref": "WO-7", "labour_hours": 1.5}),
        ]  # fmt: skip
        count = len(steps)
        return [
            self.envelope(event_type, data, event_id=f"wo7-{index}", seconds_ago=count - index)
            for index, (event_type, data) in enumerate(steps)
        ]

    def end_state(self):
        request = self.request("WO-7")
        return {
            "done": request.stage_id.done,
            "costs": (request.labour_cost, request.parts_cost, request.total_cost),
            "stock": [
                (self.quantity(part, location), part.free_qty)
                for part in (self.bearing, self.filter)
                for location in (self.stock, self.maintenance_location, self.consumption_location)
            ],
            "moves": sorted(
                (
                    m.maintenance_kind,
                    m.maintenance_ref,
                    m.product_id.default_code,
                    m.quantity,
                    m.maintenance_unreserved_qty,
                )
                for m in request.part_move_ids.filtered(lambda m: m.state != "cancel")
            ),  # fmt: skip
            "events": sorted(
                self.Event.search(
                    [("system_id", "=", self.system.id), ("direction", "=", "inbound")]
                ).mapped("state")
            ),
        }

    def run_deliveries(self, batches):
        """Deliver ``batches`` (lists of envelopes), run every job; the end state."""
        try:
            with self.env.cr.savepoint():
                queue = JobQueue(self.env)
                for batch in batches:
                    self.deliver(batch)
                queue.perform_all(immediate_only=False)  # the waiting ones' retries
                state = self.end_state()
                raise Rollback
        except Rollback:
            pass
        self.env.invalidate_all()
        return state

    def test_duplicates_and_reordering_give_the_same_end_state(self):
        events = self.scenario()
        in_order = self.run_deliveries([[event] for event in events])
        self.assertTrue(in_order["done"])
        self.assertEqual(in_order["costs"], (90.0, 54.0, 144.0))
        self.assertEqual(set(in_order["events"]), {"done"})
        reversed_one_by_one = self.run_deliveries([[event] for event in reversed(events)])
        shuffled_and_twice = self.run_deliveries(
            [[events[3], events[5], events[0]], [events[1], events[3], events[4], events[2]]]
        )
        resent = self.scenario()  # the CMMS resends every event under new ids
        for envelope in resent:
            envelope["id"] += "-again"
        resent_batches = [[event] for event in events] + [resent]
        resent_state = self.run_deliveries(resent_batches)
        for name, state in (
            ("reversed", reversed_one_by_one),
            ("shuffled with duplicates", shuffled_and_twice),
        ):
            with self.subTest(delivery=name):
                self.assertEqual(state, in_order)
        in_order_resent = dict(in_order)
        resent_state.pop("events")
        in_order_resent.pop("events")
        self.assertEqual(resent_state, in_order_resent)

    @settings(
        max_examples=5,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(deliveries())
    def test_any_order_and_duplicates_give_the_same_end_state(self, batches):
        events = self.scenario()
        self.assertEqual(len(events), SCENARIO_LENGTH)
        if self.expected is None:  # the events once each, in order: the same every example
            type(self).expected = self.run_deliveries([[event] for event in events])
        actual = self.run_deliveries([[events[index] for index in batch] for batch in batches])
        self.assertEqual(actual, self.expected)
