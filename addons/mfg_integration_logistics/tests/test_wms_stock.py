from odoo.tests import tagged

from ..services.logistics_messages import naive_utc
from .common import LogisticsCase, utc_stamp


@tagged("post_install", "-at_install")
class TestWmsStock(LogisticsCase):
    def lot(self, name, product=None):
        return self.env["stock.lot"].create(
            {"name": name, "product_id": (product or self.bracket).id}
        )

    def moved(self, movement_id, qty, source, destination, seconds_ago, lot="L-A", **extra):
        data = dict(
            {
                "movement_id": movement_id,
                "product_code": "BRK-100",
                "qty": qty,
                "from_location": source,
                "to_location": destination,
                "lots": [{"lot": lot, "qty": qty}],
                "moved_at": utc_stamp(seconds_ago),
            },
            **extra,
        )
        return "wms.stock.moved", data

    def counted(self, count_id, qty, location, seconds_ago, lot="L-A", reason="cycle count"):
        data = {
            "count_id": count_id,
            "counted_at": utc_stamp(seconds_ago),
            "reason": reason,
            "lines": [{"product_code": "BRK-100", "location": location, "lot": lot, "qty": qty}],
        }
        return "wms.inventory.adjusted", data

    def post(self, event_type, data, event_id=None):
        # one subject per business fact: each is applied on arrival, in the order it arrives
        key = data.get("movement_id") or data.get("count_id")
        return self.send(self.wms, event_type, key, data, event_id=event_id)

    def stock_of(self, lot):
        return (
            self.on_hand(self.bracket, self.shelf_a, lot),
            self.on_hand(self.bracket, self.shelf_b, lot),
        )

    def test_duplicated_and_reordered_events_give_the_same_stock(self):
        # what happened in the WMS, oldest first: a count of 10 on shelf A, 4 moved to B,
        # a count of 5 on A (one unit was lost), 2 moved back from B to A
        history = [
            self.counted("C-1", 10, "WMS-A", 400),
            self.moved("M-1", 4, "WMS-A", "WMS-B", 300),
            self.counted("C-2", 5, "WMS-A", 200),
            self.moved("M-2", 2, "WMS-B", "WMS-A", 100),
        ]
        lot_in_order = self.lot("L-A")
        for event_type, data in history:
            self.assertDone(self.post(event_type, data))
        self.assertEqual(self.stock_of(lot_in_order), (7, 2))
        # the same history for a second lot, arriving backwards, with resends
        history = [
            (event_type, dict(data, lots=[{"lot": "L-B", "qty": data["qty"]}]))
            if event_type == "wms.stock.moved"
            else (
                event_type,
                dict(
                    data, count_id=data["count_id"] + "b", lines=[dict(data["lines"][0], lot="L-B")]
                ),
            )
            for event_type, data in history
        ]
        history = [
            (t, dict(d, movement_id=d["movement_id"] + "b")) if "movement_id" in d else (t, d)
            for t, d in history
        ]
        lot_reordered = self.lot("L-B")
        arrivals = [history[3], history[2], history[1], history[1], history[0], history[3]]
        for index, (event_type, data) in enumerate(arrivals):
            event = self.post(event_type, data, event_id="first-M-1b" if index == 2 else None)
            self.assertDone(event)
        # and the very same envelope again: a duplicate, not a new event
        self.post(*history[1], event_id="first-M-1b")
        self.assertEqual(self.stock_of(lot_reordered), (7, 2))
        moves = self.env["stock.move"].search([("wms_movement_ref", "=", "M-1b")])
        self.assertEqual(len(moves), 1, "one movement id, one move")
        counts = self.env["mfg.wms.count"].search([("lot_id", "=", lot_reordered.id)])
        self.assertEqual(
            sorted(counts.mapped("applied")), [False, True], "the older count came late"
        )

    def test_a_count_is_an_inventory_adjustment_with_the_wms_reason(self):
        lot = self.lot("L-C")
        self.assertDone(self.post(*self.moved("M-5", 3, "WMS-B", "WMS-A", 60, lot="L-C")))
        event = self.post(
            *self.counted("C-5", 8, "WMS-A", 30, lot="L-C", reason="damaged rack recount")
        )
        self.assertDone(event)
        self.assertEqual(self.on_hand(self.bracket, self.shelf_a, lot), 8)
        count = self.env["mfg.wms.count"].search([("count_ref", "=", "C-5")])
        self.assertEqual((count.quantity_before, count.quantity, count.applied), (3, 8, True))
        adjustment = count.move_id
        self.assertTrue(adjustment.is_inventory)
        self.assertIn("damaged rack recount", adjustment.name)
        self.assertEqual(adjustment.location_dest_id, self.shelf_a)
        self.assertEqual(adjustment.quantity, 5)
        self.assertEqual(adjustment.date, naive_utc(utc_stamp(30)))
        # the same count in a new envelope: applied once
        self.assertDone(self.post(*self.counted("C-5", 8, "WMS-A", 30, lot="L-C")))
        self.assertEqual(self.env["mfg.wms.count"].search_count([("count_ref", "=", "C-5")]), 1)
        self.assertEqual(self.on_hand(self.bracket, self.shelf_a, lot), 8)

    def test_a_count_from_a_wms_that_does_not_own_the_stock_is_refused(self):
        lot = self.lot("L-D")
        self.wms.sor_kind_ids = [(5, 0, 0)]
        event = self.post(*self.counted("C-6", 8, "WMS-A", 30, lot="L-D"))
        self.assertBusinessError(event, "sor_conflict")
        self.assertEqual(self.stock_of(lot), (0, 0))
        # a movement is a fact, not a change of Odoo's stock records: it applies
        self.assertDone(self.post(*self.moved("M-13", 1, "WMS-B", "WMS-A", 10, lot="L-D")))
        self.assertEqual(self.stock_of(lot), (1, -1))

    def test_a_movement_converts_units_and_books_serials_and_plain_products(self):
        event = self.send(
            self.wms,
            "wms.stock.moved",
            "M-6",
            {
                "movement_id": "M-6",
                "product_code": "CBX-200",
                "qty": 2,
                "uom": "DZ",
                "from_location": "WMS-A",
                "to_location": "WMS-B",
            },
        )
        self.assertDone(event)
        self.assertEqual(self.on_hand(self.box, self.shelf_b), 24)
        self.assertEqual(self.on_hand(self.box, self.shelf_a), -24)

    def test_unknown_codes_and_bad_lots_are_business_exceptions(self):
        unknown_location = self.post(*self.moved("M-7", 1, "WMS-A", "WMS-Z", 10))
        self.assertBusinessError(unknown_location, "mapping_missing")
        self.assertEqual(unknown_location.exception_id.external_code, "WMS-Z")
        unknown_product = self.post(
            *self.moved("M-8", 1, "WMS-A", "WMS-B", 10, product_code="NOPE")
        )
        self.assertBusinessError(unknown_product, "mapping_missing")
        unknown_unit = self.post(*self.moved("M-9", 1, "WMS-A", "WMS-B", 10, uom="PAL"))
        self.assertBusinessError(unknown_unit, "mapping_missing")
        unmatched = self.post(
            *self.moved("M-10", 5, "WMS-A", "WMS-B", 10, lots=[{"lot": "L-X", "qty": 2}])
        )
        self.assertBusinessError(unmatched, "lot_quantity_mismatch")
        untracked = self.post(*self.moved("M-11", 5, "WMS-A", "WMS-B", 10, lots=[]))
        self.assertBusinessError(untracked, "lot_missing")
        self.assertFalse(self.env["stock.move"].search([("wms_system_id", "=", self.wms.id)]))
        # Create Mapping: the location mapped, the waiting movement is retried and booked
        self.map(self.wms, "location", {"WMS-Z": self.stock})
        self.run_jobs()
        self.assertDone(unknown_location)
        self.assertEqual(
            self.on_hand(
                self.bracket, self.stock, self.env["stock.lot"].search([("name", "=", "L-A")])
            ),
            1,
        )

    def test_a_movement_of_a_held_lot_is_refused(self):
        lot = self.lot("L-H")
        self.hold(lot, "Test: contamination")
        event = self.post(*self.moved("M-12", 1, "WMS-A", "WMS-B", 10, lot="L-H"))
        self.assertBusinessError(event, "lot_on_hold")
        self.assertEqual(self.stock_of(lot), (0, 0))
