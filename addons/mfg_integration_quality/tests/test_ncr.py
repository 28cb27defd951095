from odoo.exceptions import UserError

from .common import QualityCase


class TestNcr(QualityCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        groups = [
            cls.env.ref("stock.group_stock_manager").id,
            cls.env.ref("mrp.group_mrp_user").id,
        ]
        Users = cls.env["res.users"].with_context(no_reset_password=True)
        cls.inspector = Users.create(
            {
                "name": "Inspector",
                "login": "q_inspector",
                "email": "i@example.com",
                "groups_id": [(6, 0, groups)],
            }
        )
        cls.approver = Users.create(
            {
                "name": "QA Manager",
                "login": "q_approver",
                "email": "m@example.com",
                "groups_id": [(6, 0, groups)],
            }
        )

    def report(self, disposition, lots):
        return (
            self.env["mfg.quality.ncr"]
            .with_user(self.inspector)
            .create(
                {
                    "title": "Steel too thick",
                    "source": "supplier",
                    "description": "<p>2.4 mm measured</p>",
                    "product_id": self.steel.id,
                    "lot_ids": [(6, 0, lots.ids)],
                    "disposition": disposition,
                }
            )
        )

    def test_scrap_disposition_needs_a_second_person_and_creates_the_scrap(self):
        self.inspect(self.lot_s1, 2.4, result="fail")
        hold = self.Hold.search([("lot_id", "=", self.lot_s1.id)])
        ncr = self.report("scrap", self.lot_s1 | self.lot_s2)
        self.assertTrue(ncr.name.startswith("NCR/"))
        created = self.outbound("quality.ncr.created")
        self.assertEqual(created.payload["lots"], ["S-1", "S-2"])
        self.assertEqual(created.subject, ncr.name)
        ncr.action_submit()
        with self.assertRaisesRegex(UserError, "second person"):
            ncr.action_approve()
        self.assertEqual(ncr.state, "to_approve")
        ncr.with_user(self.approver).action_approve()
        self.assertEqual((ncr.state, ncr.approved_by_id), ("done", self.approver))
        scraps = self.env["stock.scrap"].search([("origin", "=", ncr.name)])
        self.assertEqual(
            sorted((s.lot_id.name, s.scrap_qty, s.state) for s in scraps),
            [("S-1", 100, "done"), ("S-2", 30, "done")],
        )
        self.assertEqual(ncr.scrap_count, 2)
        # S-1's hold ended scrapped; S-2 was held for the NCR, then scrapped
        self.assertEqual(hold.state, "scrapped")
        self.assertEqual(hold.ncr_id, ncr)
        self.assertEqual(set(ncr.hold_ids.mapped("state")), {"scrapped"})
        self.assertEqual(self.on_hand(self.lot_s1, self.quarantine()), 0)
        self.assertEqual(self.on_hand(self.lot_s2, self.stock), 0)
        self.assertTrue(any("applied" in (m.body or "") for m in ncr.message_ids))

    def test_use_as_is_releases_and_rework_marks_the_hold(self):
        self.inspect(self.lot_s1, 2.4, result="fail")
        self.inspect(self.lot_s2, 2.4, result="fail")
        for disposition, lot, state in (
            ("use_as_is", self.lot_s1, "released"),
            ("rework", self.lot_s2, "reworked"),
        ):
            ncr = self.report(disposition, lot)
            ncr.action_submit()
            ncr.with_user(self.approver).action_approve()
            self.assertEqual(self.Hold.search([("lot_id", "=", lot.id)]).state, state)
            self.assertFalse(lot.mfg_on_hold)
            self.assertEqual(self.on_hand(lot, self.stock), 100 if lot == self.lot_s1 else 30)

    def test_return_keeps_the_stock_in_quarantine(self):
        ncr = self.report("return", self.lot_s2)
        ncr.action_submit()
        ncr.with_user(self.approver).action_approve()
        hold = ncr.hold_ids
        self.assertEqual(hold.state, "returned")
        self.assertEqual(self.on_hand(self.lot_s2, self.quarantine()), 30)

    def test_a_disposition_is_required_before_approval(self):
        ncr = self.report(False, self.lot_s1)
        with self.assertRaises(UserError):
            ncr.action_submit()
        with self.assertRaises(UserError):
            ncr.with_user(self.approver).action_approve()
        ncr.action_hold_lots()
        self.assertTrue(self.lot_s1.mfg_on_hold)
        self.assertEqual(ncr.hold_ids.lot_id, self.lot_s1)
