from datetime import datetime, timedelta

from odoo.tests import BaseCase

from ..services import supply_rules
from ..services.supply_rules import LineSupply, Need

START = datetime(2026, 3, 2, 6, 0)


class TestSupplyRules(BaseCase):
    def supply(self, **values):
        defaults = {
            "ordered": 100,
            "received": 0,
            "incoming": 100,
            "promised": None,
            "rejected": False,
            "arrival": START,
        }
        return LineSupply(**dict(defaults, **values))

    def test_late_arrival_gap_is_bounded_by_the_orders_need(self):
        needs = [Need(1, START + timedelta(days=1), 20), Need(2, START + timedelta(days=9), 30)]
        gap = supply_rules.shortage_gap(self.supply(arrival=START + timedelta(days=3)), needs)
        self.assertEqual((gap.reason, gap.qty, gap.production_ids), ("late", 20, [1]))
        self.assertEqual(gap.days, 2)
        self.assertIsNone(supply_rules.shortage_gap(self.supply(), needs))

    def test_partial_confirmation_and_short_receipt_are_short(self):
        needs = [Need(1, START + timedelta(days=1), 150)]
        partial = supply_rules.shortage_gap(self.supply(promised=70), needs)
        self.assertEqual((partial.reason, partial.qty), ("short", 30))
        received_short = self.supply(received=60, incoming=0)
        self.assertEqual(supply_rules.shortage_gap(received_short, needs).qty, 40)
        rejected = supply_rules.shortage_gap(self.supply(rejected=True), needs)
        self.assertEqual((rejected.reason, rejected.qty), ("rejected", 100))
        self.assertIsNone(supply_rules.shortage_gap(self.supply(promised=70), []))

    def test_deviations_and_tolerances(self):
        found = supply_rules.deviations(100, 90, START, START + timedelta(days=1), 4.0, 4.4)
        self.assertEqual([kind for kind, _o, _c in found], ["qty", "date", "price"])
        self.assertEqual(
            supply_rules.deviations(100, 100, START, START - timedelta(days=1), 4.0, 4.0), []
        )
        self.assertTrue(supply_rules.beyond_tolerance(100, 97, 2))
        self.assertFalse(supply_rules.beyond_tolerance(100, 98, 2))
        self.assertEqual(supply_rules.tolerance_percent("x"), 2.0)
        self.assertEqual(supply_rules.tolerance_percent("-1"), 2.0)
        self.assertEqual(supply_rules.tolerance_percent("5"), 5.0)
        self.assertEqual(supply_rules.utc_naive("2026-03-02T08:00:00+02:00"), START)
        self.assertIsNone(supply_rules.utc_naive(None))
