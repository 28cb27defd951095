"""MES benchmark: completion-grade MES sequences into real MRP records, ours vs an XML-RPC script.

    .venv/bin/python tests/bench/bench_mes.py --source-db mfg_bench_src [--orders 200]

``--source-db`` is a database with mfg_integration_mes installed and no open sessions (a
stopped demo's, or one made with ``odoo -i mfg_integration_mes --without-demo=all``). It is
copied to a scratch database (dropped at the end, ``--keep`` keeps it) in which, before any
timing, a press, a lot-tracked bracket built from lot-tracked steel and screws (BoM with one
operation), steel lots on hand and three sets of confirmed MOs are created: two identical
ones of ``--orders`` (ours, the script's) and ``--profile-orders`` more for the profile.
Every MO gets the same sequence: its work order started, 20 steel from a named lot consumed,
10 brackets of a new lot produced with ``final`` (the order closes). Then, against its own
Odoo (2 workers, queue_job ``--channels``, by default ``root:2`` with one slot for the
processing channel ``root.mfg_integration``) on a spare port, side by side:

* ours: the sequences as MES events (mes.workorder.started, mes.material.consumed,
  mes.production.completed), POST /mfg/v1/events in requests of ``--batch-orders`` orders,
  timed from the first POST until the last event is processed (done) by the queue_job
  handlers of mfg_integration_mes;
* the script, the fair baseline: what an integrator writes instead over XML-RPC, one order
  after the other as the MES reports them: one batched read of the orders, work orders,
  component moves and lots up front, then per order ``button_start``, one write of the
  steel move's lines (reserved lines deleted, the lot's line created, picked, manual
  consumption), the finished lot created, ``qty_producing`` and the lot written,
  ``set_qty_producing`` (the form's onchange) and ``button_mark_done`` with the contexts
  that skip the backorder and consumption wizards: 6 calls per order plus 5 reads in all.
  It is fair: it books the same records, is as economical with round trips as a script
  processing orders as they complete can be, and skips our addon's change notifications as
  our handlers do (``mes_no_change_event``). It does not check lot availability; ours does.

Both sets must end identical (every MO done, the same lots produced and consumed) or the
benchmark stops. Last, the third set is processed in this process under cProfile (ingest,
then the jobs run as the job runner would) and the profile is printed per stage and as the
top functions by cumulative time. The load average is printed: on a shared machine the
figures move with it.

Processing slots: orders that draw on the same stock update the same quant and work center
rows; with two processing jobs in parallel (``--channels root:3,root.mfg_integration:2``) a
job that meets the other's lock hands the rest of its chunk to a new job a moment later
(no attempt spent, no backoff); the default gives processing one slot, as a plant that books
stock from MES events would.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
import xmlrpc.client
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_common import REPO, drop, odoo_env, scratch_copy
from odoo_server.server import OdooServer, post, query

CONTRACTS = ("mes.workorder.started", "mes.material.consumed", "mes.production.completed")
EVENTS_PER_ORDER = len(CONTRACTS)
ORDER_QTY = 10
STEEL_PER_UNIT = 2
SCREWS_PER_UNIT = 4
STEEL_LOTS = 10
SETS = ("ours", "script", "profile")
# Every MES event happens a minute before the run starts, one second apart per order:
# relative to the clock, so latencies stay those of the run whatever the date.
RUN_STARTED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)


def prepare(env, orders, run):
    """The plant and three identical sets of confirmed orders: {set: [MES references]}."""
    Product = env["product.product"]
    press = env["mrp.workcenter"].create({"name": f"Bench press {run}", "code": f"BP-{run}"})
    steel, screw, bracket = Product.create(
        [
            {
                "name": "Bench steel",
                "default_code": f"BSTL-{run}",
                "is_storable": True,
                "tracking": "lot",
            },
            {"name": "Bench screw", "default_code": f"BSCR-{run}", "is_storable": True},
            {
                "name": "Bench bracket",
                "default_code": f"BBRK-{run}",
                "is_storable": True,
                "tracking": "lot",
            },
        ]
    )
    env["mrp.bom"].create(
        {
            "product_tmpl_id": bracket.product_tmpl_id.id,
            "product_qty": 1,
            "bom_line_ids": [
                (0, 0, {"product_id": steel.id, "product_qty": STEEL_PER_UNIT}),
                (0, 0, {"product_id": screw.id, "product_qty": SCREWS_PER_UNIT}),
            ],
            "operation_ids": [(0, 0, {"name": "Assembly", "workcenter_id": press.id})],
        }
    )
    stock = env.ref("stock.stock_location_stock")
    Quant = env["stock.quant"]
    needed = len(SETS) * orders * ORDER_QTY
    lots = env["stock.lot"].create(
        [{"name": f"BS-{run}-{n}", "product_id": steel.id} for n in range(STEEL_LOTS)]
    )
    for lot in lots:
        Quant._update_available_quantity(steel, stock, needed * STEEL_PER_UNIT, lot_id=lot)
    Quant._update_available_quantity(screw, stock, needed * SCREWS_PER_UNIT)
    references = {}
    for name in SETS:
        productions = env["mrp.production"].create(
            [{"product_id": bracket.id, "product_qty": ORDER_QTY} for _n in range(orders)]
        )
        productions.action_confirm()
        references[name] = productions.sorted("id").mapped("mes_order_ref")
    plant = {
        "machine": press.code,
        "steel": steel.default_code,
        "bracket": bracket.default_code,
        "steel_lots": lots.mapped("name"),
    }
    return plant, references


def steel_lot(plant, index):
    return plant["steel_lots"][index % STEEL_LOTS]


def finished_lot(run, name, index):
    return f"BB-{run}-{name}-{index}"


def order_events(plant, run, name, index, reference):
    """The MES's three events of one order, a second apart."""

    def envelope(step, contract, version, data):
        return {
            "specversion": "1.0",
            "id": f"{run}-{name}-{index}-{step}",
            "source": "plant1/line2/mes",
            "type": contract,
            "dataschema": f"urn:mfg:contract:{contract}:{version}",
            "time": (RUN_STARTED + timedelta(seconds=step)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "subject": reference,
            "sequence": f"{index * EVENTS_PER_ORDER + step:012d}",
            "correlationid": f"{run}-{name}-{index}",
            "data": dict(data, production_ref=reference),
        }

    return [
        envelope(
            0,
            "mes.workorder.started",
            "1.1",
            {
                "product_code": plant["bracket"],
                "qty_planned": ORDER_QTY,
                "uom": "Units",
                "machine": plant["machine"],
                "operation": "Assembly",
            },
        ),
        envelope(
            1,
            "mes.material.consumed",
            "1.0",
            {
                "product_code": plant["steel"],
                "qty": ORDER_QTY * STEEL_PER_UNIT,
                "uom": "Units",
                "lot": steel_lot(plant, index),
            },
        ),
        envelope(
            2,
            "mes.production.completed",
            "1.1",
            {
                "qty": ORDER_QTY,
                "uom": "Units",
                "lots": [{"lot": finished_lot(run, name, index), "qty": ORDER_QTY}],
                "final": True,
            },
        ),
    ]


def all_events(plant, run, name, references):
    return [
        event
        for index, reference in enumerate(references)
        for event in order_events(plant, run, name, index, reference)
    ]


# -- ours: REST ingest + queue_job handlers ---------------------------------------------


def bench_ours(server, key, system_id, events, batch_orders, timeout=600):
    """(seconds to the last event done, seconds spent in the POSTs)."""
    batch = batch_orders * EVENTS_PER_ORDER
    sql = (
        "SELECT state, count(*) FROM mfg_integration_event"
        " WHERE system_id = %s AND direction = 'inbound' GROUP BY state"
    )
    started = time.perf_counter()
    posting = 0.0
    for start in range(0, len(events), batch):
        before = time.perf_counter()
        status, body, _headers = post(server.url, key, {"events": events[start : start + batch]})
        posting += time.perf_counter() - before
        if status != 202:
            raise SystemExit(f"ingest answered {status}: {str(body)[:300]}")
    deadline = time.monotonic() + timeout
    while True:
        states = dict(query(server.database, sql, [system_id]))
        if states.get("done", 0) >= len(events):
            return time.perf_counter() - started, posting
        stuck = {s: n for s, n in states.items() if s in ("failed", "dead", "rejected")}
        if stuck:
            errors = query(
                server.database,
                "SELECT event_type, error FROM mfg_integration_event WHERE system_id = %s"
                " AND state IN ('failed', 'dead') LIMIT 3",
                [system_id],
            )
            raise SystemExit(f"our path left events {stuck}: {errors}")
        if time.monotonic() > deadline:
            raise SystemExit(f"our path: events by state after {timeout} s: {states}")
        time.sleep(0.05)


# -- the script: XML-RPC, the way an integrator writes it --------------------------------


class Script:
    """An integrator's XML-RPC script applying the same sequences."""

    CONTEXT = {"mes_no_change_event": True}
    DONE_CONTEXT = dict(
        CONTEXT,
        skip_backorder=True,
        mo_ids_to_backorder=[],
        skip_consumption=True,
        skip_redirection=True,
    )

    def __init__(self, server):
        self.database = server.database
        self.uid = server.admin_uid()
        self.models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object", allow_none=True)
        self.calls = 0

    def call(self, model, method, *args, **kwargs):
        self.calls += 1
        try:
            return self.models.execute_kw(
                self.database, self.uid, "admin", model, method, list(args), kwargs
            )
        except xmlrpc.client.Fault as fault:
            # A method that returns nothing (button_start, set_qty_producing) has committed
            # its work when XML-RPC fails to marshal its None: the usual integrator's idiom.
            if "cannot marshal None" in fault.faultString:
                return None
            raise

    def run(self, plant, run, name, references):
        """Apply every order's sequence; seconds taken."""
        started = time.perf_counter()
        orders = self.call(
            "mrp.production",
            "search_read",
            [("mes_order_ref", "in", references)],
            fields=["mes_order_ref", "workorder_ids", "move_raw_ids", "company_id"],
        )
        by_reference = {order["mes_order_ref"]: order for order in orders}
        products = {
            product["default_code"]: product["id"]
            for product in self.call(
                "product.product",
                "search_read",
                [("default_code", "in", [plant["steel"], plant["bracket"]])],
                fields=["default_code"],
            )
        }
        steel_id = products[plant["steel"]]
        lots = {
            lot["name"]: lot["id"]
            for lot in self.call(
                "stock.lot",
                "search_read",
                [("name", "in", plant["steel_lots"]), ("product_id", "=", steel_id)],
                fields=["name"],
            )
        }
        moves = self.call(
            "stock.move",
            "search_read",
            [("raw_material_production_id", "in", [o["id"] for o in orders])],
            fields=[
                "raw_material_production_id",
                "product_id",
                "product_uom",
                "location_id",
                "location_dest_id",
                "move_line_ids",
            ],
        )
        steel_moves = {
            move["raw_material_production_id"][0]: move
            for move in moves
            if move["product_id"][0] == steel_id
        }
        workorders = {
            workorder["production_id"][0]: workorder["id"]
            for workorder in self.call(
                "mrp.workorder",
                "search_read",
                [("production_id", "in", [o["id"] for o in orders])],
                fields=["production_id"],
            )
        }
        for index, reference in enumerate(references):
            order = by_reference[reference]
            # mes.workorder.started
            self.call("mrp.workorder", "button_start", [workorders[order["id"]]])
            # mes.material.consumed: the reported lot replaces Odoo's reservation
            move = steel_moves[order["id"]]
            line = {
                "product_id": steel_id,
                "product_uom_id": move["product_uom"][0],
                "location_id": move["location_id"][0],
                "location_dest_id": move["location_dest_id"][0],
                "lot_id": lots[steel_lot(plant, index)],
                "quantity": ORDER_QTY * STEEL_PER_UNIT,
                "picked": True,
            }
            self.call(
                "stock.move",
                "write",
                [move["id"]],
                {
                    "move_line_ids": [(2, line_id) for line_id in move["move_line_ids"]]
                    + [(0, 0, line)],
                    "manual_consumption": True,
                    "picked": True,
                },
                context=self.CONTEXT,
            )
            # mes.production.completed, final
            lot_id = self.call(
                "stock.lot",
                "create",
                {
                    "name": finished_lot(run, name, index),
                    "product_id": products[plant["bracket"]],
                    "company_id": order["company_id"][0],
                },
            )
            self.call(
                "mrp.production",
                "write",
                [order["id"]],
                {"lot_producing_id": lot_id, "qty_producing": ORDER_QTY},
                context=self.CONTEXT,
            )
            self.call("mrp.production", "set_qty_producing", [order["id"]], context=self.CONTEXT)
            done = self.call(
                "mrp.production", "button_mark_done", [order["id"]], context=self.DONE_CONTEXT
            )
            if done is not True:
                raise SystemExit(f"script: mark done of {reference} answered {done}")
        return time.perf_counter() - started


# -- outcome check and profile -----------------------------------------------------------


def outcome(env, plant, run, name, references):
    """What a set of orders ended as, in terms that do not name the set."""
    productions = env["mrp.production"].search([("mes_order_ref", "in", references)])
    by_reference = {p.mes_order_ref: p for p in productions}
    result = []
    for index, reference in enumerate(references):
        production = by_reference[reference]
        consumed = sorted(
            (line.product_id.default_code, line.lot_id.name or "", line.quantity)
            for line in production.move_raw_ids.move_line_ids
            if line.state == "done"
        )
        result.append(
            (
                production.state,
                production.qty_produced,
                production.lot_producing_id.name == finished_lot(run, name, index),
                tuple(consumed),
                tuple(sorted(production.workorder_ids.mapped("state"))),
            )
        )
    return result


def profile_ours(env, system, events, batch_orders):
    """Ingest ``events`` and run the jobs they create, in process, under cProfile."""
    from odoo.addons.queue_job.job import Job

    env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM queue_job")
    first_job = env.cr.fetchone()[0]
    batch = batch_orders * EVENTS_PER_ORDER
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for start in range(0, len(events), batch):
        env["mfg.integration.event"]._ingest(system, events[start : start + batch])
    for _round in range(20):
        pending = env["queue.job"].search(
            [("id", ">", first_job), ("state", "=", "pending")], order="id"
        )
        if not pending:
            break
        for record in pending:
            job = Job.load(env, record.uuid)
            job.set_started()
            job.set_done(result=job.perform())
            job.store()
    profiler.disable()
    return time.perf_counter() - started, pstats.Stats(profiler)


STAGES = (
    ("ingest (validate, store, enqueue)", "inbox/ingest.py", "ingest"),
    ("processing jobs (all below)", "inbox/processing.py", "process_chunk"),
    ("  handler: work order started", "workorder_started.py", "handle_workorder_started"),
    ("    mrp.workorder.button_start", "mrp/models/mrp_workorder.py", "button_start"),
    ("  handler: material consumed", "material_consumed.py", "handle_material_consumed"),
    ("  handler: production completed", "production_completed.py", "handle_production_completed"),
    ("    mrp.production._set_qty_producing", "mrp/models/mrp_production.py", "_set_qty_producing"),
    (
        "    mrp.production.button_mark_done",
        "mfg_integration_mes/models/mrp_production.py",
        "button_mark_done",
    ),
    ("  flush of pending writes (flush_all)", "odoo/api.py", "flush_all"),
)


def cumulative(stats, path_part, function):
    """Cumulative seconds in ``function`` of the files matching ``path_part``."""
    return sum(
        ct
        for (path, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()
        if name == function and path_part in path
    )


def print_profile(stats, elapsed, orders, top):
    print(f"  profile of ours in process ({orders} orders, under cProfile: {elapsed:.1f} s)")
    processing = cumulative(stats, "inbox/processing.py", "process_chunk")
    for label, path_part, function in STAGES:
        seconds = cumulative(stats, path_part, function)
        share = f"{100 * seconds / elapsed:5.1f} % of all" if elapsed else ""
        print(f"    {label:44s} {seconds:7.2f} s  {share}")
    print(f"    {'(processing per order)':44s} {1000 * processing / orders:7.1f} ms")
    print(f"  top {top} functions by cumulative time (our code and Odoo's):")
    rows = sorted(
        (
            (ct, nc, path, line, name)
            for (path, line, name), (_cc, nc, _tt, ct, _callers) in stats.stats.items()
            if "/odoo/" in path or "/addons/" in path
        ),
        reverse=True,
    )
    for ct, calls, path, line, name in rows[:top]:
        where = "/".join(Path(path).parts[-3:])
        print(f"    {ct:7.2f} s {calls:8d} calls  {name} ({where}:{line})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-db", required=True, help="a database with the addons installed")
    parser.add_argument("--db", default="mfg_bench_mes", help="the scratch copy")
    parser.add_argument("--conf", default=str(REPO / "run" / "odoo-test.conf"))
    parser.add_argument("--venv", default=str(REPO / ".venv"))
    parser.add_argument("--port", type=int, default=8389)
    parser.add_argument("--orders", type=int, default=200, help="orders per set (3 sets)")
    parser.add_argument("--batch-orders", type=int, default=100, help="orders per POST")
    parser.add_argument(
        "--profile-orders", type=int, default=50, help="orders of the profiled third set"
    )
    parser.add_argument("--top", type=int, default=25, help="functions in the profile")
    parser.add_argument(
        "--channels",
        default="root:2,root.mfg_integration:1",
        help="queue_job channels of the server (processing runs on root.mfg_integration)",
    )
    parser.add_argument("--profile-out", help="also write the profile here (pstats format)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:6]
    scratch_copy(args.source_db, args.db)
    try:
        prepared = time.perf_counter()
        with odoo_env(args.db, args.conf) as env:
            plant, references = prepare(env, args.orders, run)
        prepared = time.perf_counter() - prepared
        references["profile"] = references["profile"][: args.profile_orders]
        events = {name: all_events(plant, run, name, references[name]) for name in SETS}

        server = OdooServer(args.db, args.conf, args.venv, args.port, workers=2)
        text = server.conf.read_text().replace("channels = root:2", f"channels = {args.channels}")
        server.conf.write_text(text)
        load_before = os.getloadavg()
        server.start()
        try:
            system_id, key = server.create_system("bench_mes", CONTRACTS, rate_limit_per_minute=0)
            ours_s, posting_s = bench_ours(
                server, key, system_id, events["ours"], args.batch_orders
            )
            script = Script(server)
            script_s = script.run(plant, run, "script", references["script"])
        finally:
            server.stop()
        load_after = os.getloadavg()

        with odoo_env(args.db, args.conf) as env:
            ours_outcome = outcome(env, plant, run, "ours", references["ours"])
            script_outcome = outcome(env, plant, run, "script", references["script"])
            if ours_outcome != script_outcome or any(o[0] != "done" for o in ours_outcome):
                raise SystemExit(
                    "the two paths booked different results, e.g. "
                    f"ours {ours_outcome[0]} / script {script_outcome[0]}"
                )
            system = env["mfg.integration.system"].browse(system_id)
            profiled_s, stats = profile_ours(env, system, events["profile"], args.batch_orders)
            if args.profile_out:
                stats.dump_stats(args.profile_out)
            profile_outcome = outcome(env, plant, run, "profile", references["profile"])
            if profile_outcome != ours_outcome[: len(profile_outcome)]:
                raise SystemExit("the profiled run booked another result than ours")
    finally:
        if not args.keep:
            drop(args.db)

    orders = args.orders
    ours_rate, script_rate = orders / ours_s, orders / script_s
    print(
        f"MES benchmark on a copy of {args.source_db}: 2 Odoo workers, queue_job {args.channels}, "
        f"{os.cpu_count()} cores; {orders} orders per path (set-up {prepared:.0f} s)"
    )
    print(f"  load average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min)")
    print(
        f"  ours: REST + queue_job handlers    {ours_rate:7.1f} MOs/s {ours_rate * 3:7.1f} events/s"
        f"  ({ours_s:.1f} s, of which POSTs {posting_s:.1f} s)"
    )
    print(
        f"  script: XML-RPC per order (fair)   {script_rate:7.1f} MOs/s "
        f"{script_rate * 3:7.1f} events/s  ({script_s:.1f} s, {script.calls} calls)"
    )
    print(f"  ours / script                      {ours_rate / script_rate:7.2f} x  (goal >= 3)")
    print("  both sets ended identical: every MO done, same lots consumed and produced")
    print_profile(stats, profiled_s, len(references["profile"]), args.top)


if __name__ == "__main__":
    main()
