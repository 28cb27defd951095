from odoo.tests import tagged

from .common import LogisticsCase, utc_stamp


@tagged("post_install", "-at_install")
class TestInventoryReconciliation(LogisticsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rule = cls.env["mfg.integration.reconciliation.rule"].create(
            {
                "name": "WMS inventory",
                "kind": "wms_inventory",
                "system_id": cls.wms.id,
                "tolerance_absolute": 0.5,
            }
        )
        cls.lot_a = cls.env["stock.lot"].create({"name": "R-1", "product_id": cls.bracket.id})
        Quant = cls.env["stock.quant"]
        Quant._update_available_quantity(cls.bracket, cls.shelf_a, 10, lot_id=cls.lot_a)
        Quant._update_available_quantity(cls.box, cls.shelf_a, 5)
        Quant._update_available_quantity(cls.box, cls.shelf_b, 3)

    def snapshot(self, lines, snapshot_id="SNAP-1"):
        data = {"snapshot_id": snapshot_id, "taken_at": utc_stamp(), "lines": lines}
        return self.send(self.wms, "wms.inventory.snapshot", "inventory", data)

    def run_rule(self):
        run = self.rule._run(trigger="manual")
        self.assertEqual(run.state, "done", run.error)
        return {line.key.removeprefix("dc_wms/"): line for line in run.line_ids}

    def test_the_snapshot_against_odoo_quants_per_location_product_and_lot(self):
        event = self.snapshot(
            [
                {"product_code": "BRK-100", "location": "WMS-A", "lot": "R-1", "qty": 10},
                {"product_code": "CBX-200", "location": "WMS-A", "qty": 5.3},
                {"product_code": "CBX-200", "location": "WMS-B", "qty": 1, "uom": "DZ"},
                {"product_code": "BRK-100", "location": "WMS-B", "lot": "R-9", "qty": 2},
            ]
        )
        self.assertDone(event)
        lines = self.run_rule()
        statuses = {key: line.status for key, line in lines.items()}
        self.assertEqual(
            statuses,
            {
                "WMS-A/BRK-100/R-1": "matched",
                "WMS-A/CBX-200/-": "matched",  # 0.3 apart: within the tolerance
                "WMS-B/CBX-200/-": "mismatch",  # a dozen in the WMS, 3 in Odoo
                "WMS-B/BRK-100/R-9": "missing_in_odoo",
            },
        )
        self.assertEqual(lines["WMS-B/CBX-200/-"].external_value, 12)
        self.assertEqual(lines["WMS-B/CBX-200/-"].odoo_value, 3)
        self.assertTrue(lines["WMS-B/CBX-200/-"].exception_id)
        # stock Odoo holds at a mapped location that the WMS does not report
        self.env["stock.quant"]._update_available_quantity(self.screw, self.shelf_b, 7)
        lines = self.run_rule()
        self.assertEqual(lines["WMS-B/SCR/-"].status, "missing_external")
        self.assertEqual(len(self.rule.run_ids), 2, "each run kept")

    def test_a_snapshot_with_an_unknown_code_or_a_repeated_line_is_refused(self):
        unknown = self.snapshot(
            [{"product_code": "CBX-200", "location": "WMS-NOPE", "qty": 1}], "SNAP-2"
        )
        self.assertBusinessError(unknown, "mapping_missing")
        repeated = self.send(
            self.wms,
            "wms.inventory.snapshot",
            "inventory-2",
            {
                "snapshot_id": "SNAP-3",
                "taken_at": utc_stamp(),
                "lines": [
                    {"product_code": "CBX-200", "location": "WMS-A", "qty": 1},
                    {"product_code": "CBX-200", "location": "WMS-A", "qty": 2},
                ],
            },
        )
        self.assertBusinessError(repeated, "snapshot_duplicate_line")
