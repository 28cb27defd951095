"""Genealogy benchmark: one recursive SQL query against a naive ORM recursion, side by side.

    .venv/bin/python tests/bench/bench_genealogy.py --source-db mfg_bench_quality_src \
        [--lots 10000] [--branching 4] [--repeat 5]

``--source-db`` is a database with mfg_integration_quality installed and no open sessions
(e.g. made with ``odoo -i mfg_integration_quality --without-demo=all --stop-after-init``). It
is copied to a scratch database (dropped at the end, ``--keep`` keeps it) where a generated
genealogy of ``--lots`` lots is inserted set-based (tests/genealogy_data.py of the addon: a
``--branching``-ary tree of lot-tracked lots over several levels, every seventh lot below the
second level shared by two parents, the root delivered to a customer).

Then, for three lots (the finished root: every component below it; a lot in the middle: both
directions; a leaf component: every lot and delivery it reached), each way ``--repeat``
times with cold ORM caches (the naive way ``--naive-repeat`` times), the median printed:

* ours: ``stock.lot._mfg_genealogy()`` - one recursive SQL statement (both directions,
  deliveries reached and the stock where the material is now);
* naive: what an integrator writes with the ORM: from the lot, search its done move lines,
  follow ``consume_line_ids`` (down) or ``produce_line_ids`` (up) to the other lots, recurse
  (with a visited set, so it ends), then search deliveries of every lot reached.

Both must find the same lots, or the benchmark stops. The load average is printed: on a
shared machine the figures move with it.
"""

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_common import REPO, drop, odoo_env, scratch_copy


def naive(env, lot, direction):
    """Lots reached from ``lot`` by ORM recursion (one search per lot), and its deliveries."""
    Line = env["stock.move.line"]
    link = "consume_line_ids" if direction == "down" else "produce_line_ids"
    seen = set()

    def walk(current):
        for line in Line.search([("lot_id", "=", current.id), ("state", "=", "done")]):
            for other in line[link]:
                if other.state == "done" and other.lot_id and other.lot_id.id not in seen:
                    seen.add(other.lot_id.id)
                    walk(other.lot_id)

    sys.setrecursionlimit(100000)
    walk(lot)
    deliveries = set()
    if direction == "up":
        deliveries = set(
            Line.search(
                [
                    ("lot_id", "in", [lot.id, *seen]),
                    ("state", "=", "done"),
                    ("location_dest_id.usage", "=", "customer"),
                ]
            ).picking_id.ids
        )
    return seen, deliveries


def ours(lot, direction):
    found = lot._mfg_genealogy()
    key = "components" if direction == "down" else "used_in"
    return {edge[0] for edge in found[key]}, {d[1] for d in found["deliveries"]}


def timed(env, function, repeat):
    durations, result = [], None
    for _round in range(repeat):
        env.invalidate_all()
        started = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), result


def load_generator():
    """The addon's tests/genealogy_data.py, loaded by path: importing it as a package
    module would import the addon's test modules outside a test run."""
    path = REPO / "addons" / "mfg_integration_quality" / "tests" / "genealogy_data.py"
    spec = importlib.util.spec_from_file_location("genealogy_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-db", required=True)
    parser.add_argument("--scratch-db", default="mfg_bench_genealogy")
    parser.add_argument("--conf", default=str(REPO / "run" / "odoo.conf"))
    parser.add_argument("--lots", type=int, default=10000)
    parser.add_argument("--branching", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--naive-repeat", type=int, default=1, help="the naive way is slow: once by default"
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    scratch_copy(args.source_db, args.scratch_db)
    try:
        with odoo_env(args.scratch_db, args.conf) as env:
            generate = load_generator()
            started = time.perf_counter()
            lot_ids, edges, _picking = generate(env, lots=args.lots, branching=args.branching)
            env.cr.commit()
            print(
                f"generated {args.lots} lots, {len(edges)} consumed->produced links in "
                f"{time.perf_counter() - started:.1f} s (set-based inserts)"
            )
            Lot = env["stock.lot"]
            cases = [
                ("root, down", Lot.browse(lot_ids[1]), "down"),
                ("sub-tree, down", Lot.browse(lot_ids[2]), "down"),
                ("middle, down", Lot.browse(lot_ids[args.lots // 50]), "down"),
                ("middle, up", Lot.browse(lot_ids[args.lots // 50]), "up"),
                ("leaf, up", Lot.browse(lot_ids[args.lots]), "up"),
            ]
            header = ("lot, direction", "lots", "ours (s)", "naive ORM (s)", "ratio")
            print("{:16} {:>6} {:>10} {:>14} {:>7}".format(*header))
            for label, lot, direction in cases:
                ours_s, ours_found = timed(
                    env, lambda traced=lot, way=direction: ours(traced, way), args.repeat
                )
                naive_s, naive_found = timed(
                    env,
                    lambda traced=lot, way=direction: naive(env, traced, way),
                    args.naive_repeat,
                )
                if direction == "down":
                    ours_found, naive_found = ours_found[0], naive_found[0]
                if ours_found != naive_found:
                    raise SystemExit(f"{label}: the two ways disagree")
                reached = len(ours_found[0] if direction == "up" else ours_found)
                print(
                    f"{label:16} {reached:>6} {ours_s:>10.4f} {naive_s:>14.4f} "
                    f"{naive_s / ours_s:>6.1f}x"
                )
        print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        if not args.keep:
            drop(args.scratch_db)


if __name__ == "__main__":
    main()
