"""Lot genealogy: which lots went into a lot, which lots and deliveries it went into.

One recursive SQL statement answers both directions. Odoo links a manufacturing order's
produced move line to the move lines it consumed (``stock_move_line_consume_rel``: column
``consume_line_id`` holds the *produced* line, ``produce_line_id`` the *consumed* one, as
``stock.move.line.consume_line_ids`` reads them). Only done lines count. Each recursion
collects edges (lot, the lot it was reached from) with ``UNION``, so a lot shared by several
sub-assemblies, or a cycle in bad data, is expanded once and the query always ends.

Invariant: the edge set equals the transitive closure of the consumed -> produced relation
from the lot (tests compare it with a brute-force walk over every link).
"""

from collections import defaultdict

# The recursive steps join move lines by lot: this partial index (created by the addon) keeps
# each step an index lookup instead of a scan of every move line.
LOT_INDEX = "mfg_quality_sml_done_lot_idx"

GENEALOGY_SQL = """
WITH RECURSIVE
components(lot_id, parent_id) AS (
    SELECT c.lot_id, p.lot_id
      FROM stock_move_line p
      JOIN stock_move_line_consume_rel r ON r.consume_line_id = p.id
      JOIN stock_move_line c ON c.id = r.produce_line_id
     WHERE p.lot_id = %(lot)s AND p.state = 'done'
       AND c.state = 'done' AND c.lot_id IS NOT NULL
    UNION
    SELECT c.lot_id, p.lot_id
      FROM components t
      JOIN stock_move_line p ON p.lot_id = t.lot_id AND p.state = 'done'
      JOIN stock_move_line_consume_rel r ON r.consume_line_id = p.id
      JOIN stock_move_line c ON c.id = r.produce_line_id
     WHERE c.state = 'done' AND c.lot_id IS NOT NULL
),
used_in(lot_id, parent_id) AS (
    SELECT p.lot_id, c.lot_id
      FROM stock_move_line c
      JOIN stock_move_line_consume_rel r ON r.produce_line_id = c.id
      JOIN stock_move_line p ON p.id = r.consume_line_id
     WHERE c.lot_id = %(lot)s AND c.state = 'done'
       AND p.state = 'done' AND p.lot_id IS NOT NULL
    UNION
    SELECT p.lot_id, c.lot_id
      FROM used_in t
      JOIN stock_move_line c ON c.lot_id = t.lot_id AND c.state = 'done'
      JOIN stock_move_line_consume_rel r ON r.produce_line_id = c.id
      JOIN stock_move_line p ON p.id = r.consume_line_id
     WHERE p.state = 'done' AND p.lot_id IS NOT NULL
),
reached(lot_id) AS (
    SELECT %(lot)s
    UNION
    SELECT lot_id FROM used_in
)
SELECT 'component', lot_id, parent_id, NULL::int, NULL::numeric, NULL::timestamp
  FROM components
UNION ALL
SELECT 'used_in', lot_id, parent_id, NULL, NULL, NULL
  FROM used_in
UNION ALL
SELECT 'delivery', ml.lot_id, NULL, ml.picking_id, ml.quantity_product_uom, ml.date
  FROM stock_move_line ml
  JOIN stock_location destination ON destination.id = ml.location_dest_id
 WHERE ml.lot_id IN (SELECT lot_id FROM reached)
   AND ml.state = 'done' AND ml.lot_id IS NOT NULL
   AND destination.usage = 'customer'
UNION ALL
SELECT 'stock', q.lot_id, NULL, q.location_id, q.quantity, NULL
  FROM stock_quant q
  JOIN stock_location place ON place.id = q.location_id
 WHERE q.lot_id IN (SELECT lot_id FROM reached)
   AND place.usage = 'internal' AND q.quantity > 0
"""


def trace(cr, lot_id):
    """{"components": [(lot, reached_from)], "used_in": [(lot, reached_from)],
    "deliveries": [(lot, picking, quantity, date)], "stock": [(lot, location, quantity)]}
    of ``lot_id``, from one statement."""
    cr.execute(GENEALOGY_SQL, {"lot": lot_id})
    result = {"components": [], "used_in": [], "deliveries": [], "stock": []}
    for kind, lot, parent, reference, quantity, date in cr.fetchall():
        if kind == "component":
            result["components"].append((lot, parent))
        elif kind == "used_in":
            result["used_in"].append((lot, parent))
        elif kind == "delivery":
            result["deliveries"].append((lot, reference, float(quantity or 0.0), date))
        else:
            result["stock"].append((lot, reference, float(quantity or 0.0)))
    return result


def tree(root, edges):
    """The edges (lot, reached_from) as a depth-first list of (lot, parent, level, repeated)
    from ``root``'s children down. A lot reached from several parents is listed under each
    but expanded once (``repeated`` on the later ones), so the list has one row per edge
    and a cycle in bad data ends."""
    children = defaultdict(list)
    for lot, parent in edges:
        children[parent].append(lot)
    for kids in children.values():
        kids.sort()
    rows = []
    expanded = {root}
    stack = [(kid, root, 1) for kid in reversed(children.get(root, []))]
    while stack:
        lot, parent, level = stack.pop()
        repeated = lot in expanded
        rows.append((lot, parent, level, repeated))
        if repeated:
            continue
        expanded.add(lot)
        stack.extend((kid, lot, level + 1) for kid in reversed(children.get(lot, [])))
    return rows
