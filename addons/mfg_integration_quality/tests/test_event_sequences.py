"""Duplicated and reordered quality events leave the same end state as the events applied
once each, in order."""

import itertools
import uuid

from .common import QualityCase


class Rollback(Exception):
    """Raised to undo one run of a delivery."""


class TestEventSequences(QualityCase):
    def steps(self):
        """The QMS's story of lot S-1, in its order: a failed critical inspection (hold), the
        hold confirmed by the QMS, a use-as-is release; S-2 held and scrapped."""
        return [
            (
                "quality.inspection.recorded",
                {"lot": "S-1", "product_code": "QSTL", "characteristic": "thickness",
                 "value": 2.4, "unit": "mm", "result": "fail"},
            ),
            ("quality.lot.held", {"lot": "S-1", "product_code": "QSTL", "reason": "thick"}),
            ("quality.lot.held", {"lot": "S-2", "product_code": "QSTL", "reason": "recall"}),
            (
                "quality.lot.released",
                {"lot": "S-1", "product_code": "QSTL", "disposition": "use_as_is"},
            ),
            (
                "quality.lot.released",
                {"lot": "S-2", "product_code": "QSTL", "disposition": "scrap"},
            ),
        ]  # fmt: skip

    def end_state(self):
        holds = self.Hold.search([("lot_id", "in", (self.lot_s1 | self.lot_s2).ids)])
        return {
            "holds": sorted((h.lot_id.name, h.state, h.quantity) for h in holds),
            "on_hold": (self.lot_s1.mfg_on_hold, self.lot_s2.mfg_on_hold),
            "stock": [
                (lot.name, self.on_hand(lot, self.stock), self.on_hand(lot, self.quarantine()))
                for lot in (self.lot_s1, self.lot_s2)
            ],
            "checks": self.env["mfg.quality.check"].search_count([("lot_id", "=", self.lot_s1.id)]),
            "outbound": sorted(
                (e.event_type, e.subject)
                for e in self.Event.search(
                    [("direction", "=", "outbound"), ("system_id", "=", self.mes.id)]
                )
            ),
        }

    def deliver(self, order, repeat_new_ids=(), repeat_same_ids=()):
        """Send the steps in ``order`` (indexes), stamped in the QMS's order; repeat some
        under a new id and some under the same id; return the end state, undone after."""
        steps = self.steps()
        ids = [str(uuid.uuid4()) for _step in steps]
        # the QMS stamped its events in its own order, a second apart
        stamps = [len(steps) - index for index in range(len(steps))]
        plan = list(order) + list(repeat_new_ids) + list(repeat_same_ids)
        state = None
        try:
            with self.env.cr.savepoint():
                for position, index in enumerate(plan):
                    event_type, data = steps[index]
                    event_id = ids[index]
                    if position >= len(order) and index in repeat_new_ids:
                        event_id = str(uuid.uuid4())
                    self.send(event_type, data, event_id=event_id, seconds_ago=stamps[index])
                # waiting events (a release ahead of its hold) run when due
                self.send_delayed()
                state = self.end_state()
                raise Rollback
        except Rollback:
            pass
        return state

    def send_delayed(self):
        from odoo.addons.mfg_integration_base.tests.common import JobQueue

        queue = JobQueue(self.env)
        queue.start_id = 0
        queue.perform_all()

    def test_duplicates_and_reorderings_give_the_same_end_state(self):
        expected = self.deliver(range(5))
        self.assertEqual(expected["holds"], [("S-1", "released", 100.0), ("S-2", "scrapped", 30.0)])
        self.assertEqual(expected["on_hold"], (False, False))
        self.assertEqual(expected["stock"], [("S-1", 100, 0), ("S-2", 0, 0)])
        self.assertEqual(expected["checks"], 1)
        variants = [
            {"order": (0, 1, 2, 3, 4), "repeat_same_ids": (0, 1, 3)},
            {"order": (0, 1, 2, 3, 4), "repeat_new_ids": (0, 1, 2, 3, 4)},
            {"order": (3, 0, 1, 2, 4)},  # a release before its hold
            {"order": (4, 3, 2, 1, 0)},
            {"order": (2, 4, 0, 3, 1), "repeat_new_ids": (1, 3)},
        ]
        variants += [
            {"order": perm}
            for perm in itertools.islice(itertools.permutations(range(5)), 7, 40, 11)
        ]
        for variant in variants:
            with self.subTest(**variant):
                self.assertEqual(self.deliver(**variant), expected)
