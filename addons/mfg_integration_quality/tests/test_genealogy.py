from ..services import genealogy
from .common import QualityCase
from .genealogy_data import brute_force_closure, generate, shape


class TestGenealogy(QualityCase):
    def produce(self, lot_name, qty=5):
        """An order that welds ``qty`` frames of a new lot from steel S-1, done."""
        production = self.env["mrp.production"].create(
            {"product_id": self.frame.id, "product_qty": qty, "bom_id": self.bom.id}
        )
        production.action_confirm()
        production.action_assign()
        lot = self.env["stock.lot"].create({"name": lot_name, "product_id": self.frame.id})
        production.lot_producing_id = lot
        production.qty_producing = qty
        production.move_raw_ids.picked = True
        production.button_mark_done()
        self.assertEqual(production.state, "done")
        return lot

    def test_real_order_and_delivery_both_directions(self):
        frames = self.produce("F-1")
        picking = self.delivery(self.frame, 3)
        picking.action_assign()
        picking.move_ids.picked = True
        picking.with_context(skip_backorder=True).button_validate()
        found = self.lot_s1._mfg_genealogy()
        self.assertEqual(found["used_in"], [(frames.id, self.lot_s1.id)])
        self.assertEqual(found["components"], [])
        self.assertEqual(
            [(d[0], d[1], d[2]) for d in found["deliveries"]], [(frames.id, picking.id, 3)]
        )
        # where the held lot's material is now: 2 frames left in stock, S-1's rest
        self.assertIn((frames.id, self.stock.id, 2.0), found["stock"])
        back = frames._mfg_genealogy()
        self.assertEqual(back["components"], [(self.lot_s1.id, frames.id)])
        document = self.lot_s1._mfg_genealogy_document()
        self.assertEqual([row["lot"] for row in document["used_in"]], ["F-1"])
        self.assertEqual(document["deliveries"][0]["customer"], "Customer Ltd")
        # the UI's tree: a list of lines, grouped by direction
        action = self.lot_s1.action_view_genealogy()
        lines = self.env["mfg.quality.genealogy.line"].search(action["domain"])
        self.assertEqual(
            sorted((line.direction, line.lot_id.name) for line in lines),
            [("delivery", "F-1"), ("stock", "F-1"), ("stock", "S-1"), ("used_in", "F-1")],
        )

    def test_generated_tree_equals_brute_force(self):
        lot_ids, edges, picking = generate(self.env, lots=400, branching=3)
        self.assertGreater(len(edges), 399)  # shared sub-assemblies: a DAG, not only a tree
        reference = brute_force_closure(self.env)
        # the root, its children, inner lots, shared lots, leaves
        shared = {child for child, _parent in shape(400, 3) if child % 7 == 0 and child > 13}
        samples = [1, 2, 3, 4, 13, 40, 121, 200, 399, 400] + sorted(shared)[:5]
        for index in samples:
            lot = lot_ids[index]
            found = genealogy.trace(self.env.cr, lot)
            components = {child for child, _parent in found["components"]}
            used_in = {parent for parent, _child in found["used_in"]}
            expected_components, expected_used_in = reference(lot)
            self.assertEqual(components, expected_components, f"components of lot {index}")
            self.assertEqual(used_in, expected_used_in, f"lots lot {index} went into")
            # every lot reaches the delivered root
            self.assertEqual(
                {d[1] for d in found["deliveries"]}, {picking.id}, f"deliveries of {index}"
            )
            rows = genealogy.tree(lot, found["components"])
            self.assertEqual(len(rows), len(set(found["components"])))
        root = genealogy.trace(self.env.cr, lot_ids[1])
        self.assertEqual(len({child for child, _p in root["components"]}), 399)
        self.assertEqual(set(root["components"]), set(edges))

    def test_tree_lists_shared_lots_once_expanded_and_ends_on_cycles(self):
        edges = [(2, 1), (3, 1), (4, 2), (4, 3), (5, 4), (1, 5)]  # 4 shared, 5 -> 1 a cycle
        rows = genealogy.tree(1, edges)
        self.assertEqual(
            rows,
            [(2, 1, 1, False), (4, 2, 2, False), (5, 4, 3, False), (1, 5, 4, True),
             (3, 1, 1, False), (4, 3, 2, True)],
        )  # fmt: skip
