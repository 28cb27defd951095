"""Pure-Python shop-floor rules and order messages: no database needed."""

from datetime import datetime

from odoo.tests.common import BaseCase

from ..services import order_messages, production_rules
from ..services.production_rules import Unit

UNITS = Unit("Units", "unit", 1.0)
DOZENS = Unit("Dozens", "unit", 1 / 12)
KILOS = Unit("kg", "weight", 1.0)
GRAMS = Unit("g", "weight", 1000.0)


class TestProductionRules(BaseCase):
    def test_conversion_within_a_category_and_none_across(self):
        self.assertAlmostEqual(production_rules.convert(2, DOZENS, UNITS), 24)
        self.assertAlmostEqual(production_rules.convert(1500, GRAMS, KILOS), 1.5)
        self.assertIsNone(production_rules.convert(1, KILOS, UNITS))

    def test_overproduction_counts_what_was_produced_and_the_tolerance(self):
        self.assertEqual(production_rules.overproduction(10, 4, 6, 0), 0.0)
        self.assertEqual(production_rules.overproduction(10, 4, 7, 0), 1)
        self.assertEqual(production_rules.overproduction(10, 4, 7, 10), 0.0)
        self.assertAlmostEqual(production_rules.overproduction(10, 4, 8, 10), 1)
        self.assertEqual(production_rules.overproduction(10, 0, 10.004, 0, rounding=0.01), 0.0)

    def test_tolerance_from_a_parameter_text(self):
        self.assertEqual(production_rules.tolerance_percent("5"), 5.0)
        self.assertEqual(production_rules.tolerance_percent(None), 0.0)
        self.assertEqual(production_rules.tolerance_percent("five"), 0.0)
        self.assertEqual(production_rules.tolerance_percent("-3"), 0.0)

    def test_lot_shortfall_counts_what_the_order_already_took(self):
        self.assertEqual(production_rules.lot_shortfall(10, 0, 10), 0.0)
        self.assertEqual(production_rules.lot_shortfall(10, 6, 5), 1)
        self.assertEqual(production_rules.lot_shortfall(0, 0, 2), 2)

    def test_completion_steps_one_per_lot_and_only_the_last_may_close(self):
        steps = production_rules.completion_steps
        self.assertEqual(steps([], 4, 10, False), [(None, 4, False)])
        self.assertEqual(steps([], 4, 10, True), [(None, 4, True)])
        self.assertEqual(steps([], 10, 10, False), [(None, 10, True)], "planned reached")
        self.assertEqual(
            steps([("A", 3), ("B", 2)], 5, 5, False), [("A", 3, False), ("B", 2, True)]
        )
        self.assertEqual(
            steps([("A", 1), ("B", 1)], 2, 3, False), [("A", 1, False), ("B", 1, False)]
        )


class TestOrderMessages(BaseCase):
    FACTS = {
        "ref": "WH/MO/00042",
        "name": "WH/MO/00042-002",
        "product_code": "BRK",
        "product_name": "Bracket",
        "qty": 5.0,
        "uom": "Units",
        "tracking": "lot",
        "date_start": datetime(2026, 11, 23, 6, 0),
        "date_finished": None,
        "state": "confirmed",
        "components": [{"product_code": "STL", "qty": 10.0, "uom": "Units", "tracking": "lot"}],
        "operations": [{"sequence": 10, "workcenter": "M1", "name": "Assembly"}],
    }

    def test_messages_name_the_order_by_its_mes_reference_not_its_name(self):
        released = order_messages.released(self.FACTS)
        self.assertEqual(released["production_ref"], "WH/MO/00042")
        self.assertEqual(released["date_planned_start"], "2026-11-23T06:00:00Z")
        self.assertNotIn("date_planned_finished", released, "absent, not null")
        self.assertEqual(released["lot_tracking"], "lot")
        self.assertEqual(
            order_messages.changed(self.FACTS),
            {
                "production_ref": "WH/MO/00042",
                "qty": 5.0,
                "uom": "Units",
                "date_planned_start": "2026-11-23T06:00:00Z",
            },
        )
        self.assertEqual(order_messages.cancelled(self.FACTS), {"production_ref": "WH/MO/00042"})
