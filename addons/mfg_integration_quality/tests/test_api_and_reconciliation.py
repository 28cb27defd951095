from datetime import UTC, datetime, timedelta

from odoo.tests import HttpCase, tagged

from .common import QualityCase
from .genealogy_data import generate


@tagged("post_install", "-at_install")
class TestGenealogyApi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.system = cls.env["mfg.integration.system"].create(
            {"name": "QMS API", "code": "qms_api", "kind": "quality"}
        )
        cls.key = cls.system._generate_api_key()
        cls.lot_ids, cls.edges, cls.picking = generate(cls.env, lots=40, branching=3)
        cls.lots = cls.env["stock.lot"].browse(list(cls.lot_ids.values()))

    def get(self, lot, key=None, **params):
        headers = {"Authorization": f"Bearer {key}"} if key is not False else {}
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self.url_open(
            f"/mfg/v1/genealogy/{lot}" + (f"?{query}" if query else ""), headers=headers
        )

    def test_both_directions_authenticated(self):
        root = self.env["stock.lot"].browse(self.lot_ids[1])
        leaf = self.env["stock.lot"].browse(self.lot_ids[40])
        self.assertEqual(self.get(root.name, key=False).status_code, 401)
        self.assertEqual(self.get(root.name, key="nope").status_code, 401)
        down = self.get(root.name, key=self.key)
        self.assertEqual(down.status_code, 200, down.text)
        body = down.json()
        self.assertEqual(body["lot"], root.name)
        self.assertEqual(len({row["lot"] for row in body["components"]}), 39)
        self.assertEqual(body["components"][0]["level"], 1)
        self.assertEqual(body["deliveries"][0]["delivery"], self.picking.name)
        up = self.get(leaf.name, key=self.key).json()
        self.assertEqual(up["components"], [])
        self.assertEqual(up["used_in"][-1]["lot"] if up["used_in"] else None, root.name)
        self.assertEqual([d["delivery"] for d in up["deliveries"]], [self.picking.name])
        missing = self.get("NO-SUCH-LOT", key=self.key)
        self.assertEqual(
            (missing.status_code, missing.json()["error"]["code"]), (404, "lot_unknown")
        )


class TestHoldReconciliation(QualityCase):
    def test_holds_of_the_qms_against_odoos(self):
        self.inspect(self.lot_s1, 2.4, result="fail")  # held on both sides
        self.send("quality.lot.held", {"lot": "S-2", "product_code": "QSTL", "reason": "x"})
        other = self.env["stock.lot"].create({"name": "S-3", "product_id": self.steel.id})
        snapshot = self.send(
            "quality.hold.snapshot",
            {
                "taken_at": self.stamp_now(),
                "holds": [
                    {"lot": "S-1", "product_code": "QSTL"},
                    {"lot": other.name, "product_code": "QSTL", "reason": "QMS only"},
                ],
            },
        )
        self.assertEqual(snapshot.state, "done", snapshot.error)
        rule = self.env["mfg.integration.reconciliation.rule"].create(
            {"name": "QMS holds", "kind": "quality_holds", "system_id": self.qms.id}
        )
        run = rule._run(trigger="manual")
        self.assertEqual(
            sorted((line.key, line.status) for line in run.line_ids),
            [
                ("test_qms/QSTL/S-1", "matched"),
                ("test_qms/QSTL/S-2", "missing_external"),
                ("test_qms/QSTL/S-3", "missing_in_odoo"),
            ],
        )

    def test_a_snapshot_naming_a_lot_twice_is_refused(self):
        line = {"lot": "S-1", "product_code": "QSTL"}
        event = self.send(
            "quality.hold.snapshot", {"taken_at": self.stamp_now(), "holds": [line, line]}
        )
        self.assertBusinessError(event, "snapshot_duplicate_lot")

    def stamp_now(self):
        """Now (a second ahead: the holds placed just before count), as RFC 3339."""
        moment = datetime.now(UTC) + timedelta(seconds=1)
        return moment.isoformat().replace("+00:00", "Z")
