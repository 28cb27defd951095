"""A generated lot genealogy for the genealogy test and benchmark, inserted set-based.

``generate(env, lots, branching)`` makes a ``branching``-ary tree of ``lots`` lot-tracked lots
(lot 1 is the finished root, level k is made of level k+1), where every seventh lot below the
second level also went into its parent's next sibling (a shared sub-assembly: a DAG, as when
one component lot is split over two orders). Each parent lot has one done produced move line;
each (component, parent) edge one done consumed move line linked to it through
``stock_move_line_consume_rel``, as Odoo's MRP links them; the root lot is delivered to a
customer. Rows go in with a handful of statements whatever the size.
"""

import uuid

SHARED_EVERY = 7


def shape(lots, branching):
    """[(child index, parent index)] of the generated tree (indexes from 1; 1 is the root)."""
    edges = []
    for child in range(2, lots + 1):
        parent = (child - 2) // branching + 1
        edges.append((child, parent))
        if parent > 1 and child % SHARED_EVERY == 0 and parent + 1 < child:
            edges.append((child, parent + 1))
    return edges


def generate(env, lots=10000, branching=4):
    """Insert the tree; returns (lot ids by index, edges as (child lot id, parent lot id),
    the delivery picking)."""
    cr = env.cr
    tag = uuid.uuid4().hex[:8]
    Product = env["product.product"]
    products = [
        Product.create(
            {
                "name": f"Genealogy level {level} {tag}",
                "default_code": f"GEN{level}-{tag}",
                "is_storable": True,
                "tracking": "lot",
            }
        )
        for level in range(12)
    ]
    company = env.company
    stock = env.ref("stock.stock_location_stock")
    production = env["stock.location"].search(
        [("usage", "=", "production"), ("company_id", "in", (company.id, False))], limit=1
    )
    customers = env.ref("stock.stock_location_customers")
    uom = env.ref("uom.product_uom_unit")
    levels = {1: 0}
    for child, parent in shape(lots, branching):
        levels.setdefault(child, levels[parent] + 1)
    env.flush_all()
    cr.execute(
        """
        INSERT INTO stock_lot (name, product_id, company_id, create_uid, write_uid,
                               create_date, write_date)
        SELECT t.name, t.product, %s, %s, %s, now() at time zone 'UTC', now() at time zone 'UTC'
          FROM unnest(%s::varchar[], %s::int[]) AS t(name, product)
        RETURNING id, name
        """,
        [
            company.id,
            env.uid,
            env.uid,
            [f"G{tag}-{index}" for index in range(1, lots + 1)],
            [products[min(levels[index], 11)].id for index in range(1, lots + 1)],
        ],
    )
    by_name = {name: lot_id for lot_id, name in cr.fetchall()}
    lot_ids = {index: by_name[f"G{tag}-{index}"] for index in range(1, lots + 1)}
    product_of = {index: products[min(levels[index], 11)].id for index in lot_ids}
    edges = shape(lots, branching)
    parents = sorted({parent for _child, parent in edges})
    count = len(parents) + len(edges) + 1
    cr.execute("SELECT nextval('stock_move_line_id_seq') FROM generate_series(1, %s)", [count])
    line_ids = [row[0] for row in cr.fetchall()]
    produced_line = dict(zip(parents, line_ids, strict=False))
    consumed_lines = line_ids[len(parents) : len(parents) + len(edges)]
    picking = env["stock.picking"].create(
        {
            "picking_type_id": env.ref("stock.picking_type_out").id,
            "location_id": stock.id,
            "location_dest_id": customers.id,
            "partner_id": env["res.partner"].create({"name": f"Customer {tag}"}).id,
        }
    )
    rows = []  # (id, lot index, source, destination, picking)
    for parent in parents:
        rows.append((produced_line[parent], parent, production.id, stock.id, None))
    for line_id, (child, _parent) in zip(consumed_lines, edges, strict=True):
        rows.append((line_id, child, stock.id, production.id, None))
    rows.append((line_ids[-1], 1, stock.id, customers.id, picking.id))
    cr.execute(
        """
        INSERT INTO stock_move_line (id, company_id, product_id, product_uom_id, lot_id,
                                     location_id, location_dest_id, picking_id, quantity,
                                     quantity_product_uom, state, picked, date, create_uid,
                                     write_uid, create_date, write_date)
        SELECT t.id, %s, t.product, %s, t.lot, t.source, t.destination, t.picking, 1, 1,
               'done', true, now() at time zone 'UTC', %s, %s,
               now() at time zone 'UTC', now() at time zone 'UTC'
          FROM unnest(%s::int[], %s::int[], %s::int[], %s::int[], %s::int[], %s::int[])
               AS t(id, product, lot, source, destination, picking)
        """,
        [
            company.id,
            uom.id,
            env.uid,
            env.uid,
            [row[0] for row in rows],
            [product_of[row[1]] for row in rows],
            [lot_ids[row[1]] for row in rows],
            [row[2] for row in rows],
            [row[3] for row in rows],
            [row[4] for row in rows],
        ],
    )
    cr.execute(
        """
        INSERT INTO stock_move_line_consume_rel (consume_line_id, produce_line_id)
        SELECT * FROM unnest(%s::int[], %s::int[])
        """,
        [
            [produced_line[parent] for _child, parent in edges],
            consumed_lines,
        ],
    )
    cr.execute("ANALYZE stock_move_line")
    cr.execute("ANALYZE stock_move_line_consume_rel")
    env.invalidate_all()
    return lot_ids, [(lot_ids[c], lot_ids[p]) for c, p in edges], picking


def brute_force_closure(env):
    """{lot id: (set of component lot ids, set of lot ids it went into)} of every lot,
    walking every done produced line's consumed lines through the ORM, one lot at a time,
    with no SQL of our own: the reference the recursive query is checked against."""
    lines = env["stock.move.line"].search([("state", "=", "done"), ("lot_id", "!=", False)])
    made_from = {}
    for line in lines:
        for consumed in line.consume_line_ids:
            if consumed.state == "done" and consumed.lot_id:
                made_from.setdefault(line.lot_id.id, set()).add(consumed.lot_id.id)
    went_into = {}
    for parent, children in made_from.items():
        for child in children:
            went_into.setdefault(child, set()).add(parent)

    def closure(graph, start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    return lambda lot_id: (closure(made_from, lot_id), closure(went_into, lot_id))
