"""One order through a real prefork Odoo, its queue_job runner and a MES on the other side.

Odoo releases a confirmed order to the MES (a signed webhook to a local receiver); the MES
answers with what happened on the shop floor through POST /mfg/v1/events: the work order
started, a component consumed from a named lot, scrap, a partial completion with a lot (Odoo's
backorder), the final completion with another lot, and a breakdown of the machine. Each event
must change Odoo exactly once, and the same events sent again must change nothing.
"""

import uuid
from datetime import UTC, datetime, timedelta

from .server import Admin, post, query, wait_until
from .webhook_receiver import FaultyReceiver

SECRET = "whsec_" + "bWVzLWUyZS10ZXN0LXNpZ25pbmctc2VjcmV0"
INBOUND = (
    "mes.workorder.started",
    "mes.material.consumed",
    "mes.scrap.reported",
    "mes.production.completed",
    "mes.downtime.started",
    "mes.downtime.ended",
)
PLANNED = 10
STEEL_PER_UNIT, SCREWS_PER_UNIT = 2, 4
STEEL_ON_HAND, SCREWS_ON_HAND = 100, 1000
STEEL_REPORTED, SCRAPPED_SCREWS = 9, 2
PARTIAL, FINAL = 4, 6
BREAKDOWN_MINUTES = 20


def stamp(seconds_ago=0):
    """RFC 3339 UTC, relative to the clock (the test depends on no date)."""
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_plant(admin, run, receiver_url):
    """Products, stock, BoM with two operations, a press linked to its equipment, the MES."""
    plant = {"run": run}
    stock = admin("stock.warehouse", "search_read", [], ["lot_stock_id"], limit=1)[0]
    plant["stock"] = stock["lot_stock_id"][0]

    def product(name, code, tracking):
        values = {"name": name, "default_code": f"{code}-{run}", "is_storable": True}
        return admin.create("product.product", dict(values, tracking=tracking))

    plant["bracket"] = product("Bracket", "BRK", "lot")
    plant["steel"] = product("Steel", "STL", "lot")
    plant["screw"] = product("Screw", "SCR", "none")
    plant["steel_lot_name"] = f"S-{run}"
    plant["steel_lot"] = admin.create(
        "stock.lot", {"name": plant["steel_lot_name"], "product_id": plant["steel"]}
    )
    for product_id, lot_id, quantity in (
        (plant["steel"], plant["steel_lot"], STEEL_ON_HAND),
        (plant["screw"], False, SCREWS_ON_HAND),
    ):
        quant = admin.create(
            "stock.quant",
            {
                "product_id": product_id,
                "location_id": plant["stock"],
                "lot_id": lot_id,
                "inventory_quantity": quantity,
            },
            context={"inventory_mode": True},
        )
        admin("stock.quant", "action_apply_inventory", [quant])

    plant["equipment"] = admin.create("maintenance.equipment", {"name": f"Press frame {run}"})
    plant["press_code"], plant["bench_code"] = f"PRESS-{run}", f"BENCH-{run}"
    plant["press"] = admin.create(
        "mrp.workcenter",
        {"name": f"Press {run}", "code": plant["press_code"], "equipment_id": plant["equipment"]},
    )
    plant["bench"] = admin.create(
        "mrp.workcenter", {"name": f"Bench {run}", "code": plant["bench_code"]}
    )
    template = admin("product.product", "read", [plant["bracket"]], ["product_tmpl_id"])[0]
    admin.create(
        "mrp.bom",
        {
            "product_tmpl_id": template["product_tmpl_id"][0],
            "product_qty": 1,
            "bom_line_ids": [
                (0, 0, {"product_id": plant["steel"], "product_qty": STEEL_PER_UNIT}),
                (0, 0, {"product_id": plant["screw"], "product_qty": SCREWS_PER_UNIT}),
            ],
            "operation_ids": [
                (0, 0, {"name": "Pressing", "workcenter_id": plant["press"], "sequence": 1}),
                (0, 0, {"name": "Assembly", "workcenter_id": plant["bench"], "sequence": 2}),
            ],
        },
    )
    plant["breakdown"] = admin.xmlid("mrp", "block_reason1")
    plant["system"], plant["key"] = admin.server.create_system(
        "mes_e2e",
        (*INBOUND, "mes.order.released"),
        outbound_adapter="webhook",
        outbound_url=receiver_url,
        signing_secret=SECRET,
        outbound_connect_timeout=1.0,
        outbound_read_timeout=5.0,
    )
    for kind, code, target in (
        ("workcenter", plant["press_code"], f"mrp.workcenter,{plant['press']}"),
        ("loss_reason", "fault", f"mrp.workcenter.productivity.loss,{plant['breakdown']}"),
    ):
        admin.create(
            "mfg.integration.mapping",
            {
                "system_id": plant["system"],
                "kind": kind,
                "line_ids": [(0, 0, {"external_code": code, "target_ref": target})],
            },
        )
    return plant


def shop_floor_events(plant, reference):
    """What the MES reports about the order, in the order it happened."""
    run = plant["run"]
    press = plant["press_code"]
    downtime = f"D-{run}"
    stories = [
        ("mes.workorder.started", reference, {
            "production_ref": reference, "product_code": f"BRK-{run}",
            "qty_planned": PLANNED, "machine": press, "operation": "Pressing"}),
        ("mes.material.consumed", reference, {
            "production_ref": reference, "product_code": f"STL-{run}",
            "qty": STEEL_REPORTED, "lot": plant["steel_lot_name"], "machine": press}),
        ("mes.scrap.reported", reference, {
            "production_ref": reference, "product_code": f"SCR-{run}",
            "qty": SCRAPPED_SCREWS, "reason": "bent"}),
        ("mes.production.completed", reference, {
            "production_ref": reference, "qty": PARTIAL, "lot": f"F1-{run}",
            "final": False, "machine": press}),
        ("mes.production.completed", reference, {
            "production_ref": reference, "qty": FINAL, "lot": f"F2-{run}",
            "final": True, "machine": press}),
        ("mes.downtime.started", f"machine/{press}", {
            "downtime_id": downtime, "machine": press, "reason": "fault",
            "started_at": stamp(1800), "production_ref": reference}),
        ("mes.downtime.ended", f"machine/{press}", {
            "downtime_id": downtime, "machine": press, "reason": "fault",
            "ended_at": stamp(1800 - BREAKDOWN_MINUTES * 60)}),
    ]  # fmt: skip
    return [
        {
            "specversion": "1.0",
            "id": f"mes-{run}-{number}",
            "source": "plant1/mes",
            "type": event_type,
            "time": stamp(len(stories) - number),
            "subject": subject,
            "sequence": f"{number:012d}",
            "data": data,
        }
        for number, (event_type, subject, data) in enumerate(stories, start=1)
    ]


def odoo_facts(database, admin, plant, reference):
    """Everything the events changed in Odoo, as plain values (compared before and after
    the duplicates)."""
    chain = admin(
        "mrp.production",
        "search_read",
        [("mes_order_ref", "=", reference)],
        ["state", "qty_produced", "product_qty"],
        order="id",
    )
    ids = [order["id"] for order in chain]
    produced = query(
        database,
        "SELECT m.production_id, l.name, sum(ml.quantity) FROM stock_move m"
        " JOIN stock_move_line ml ON ml.move_id = m.id JOIN stock_lot l ON l.id = ml.lot_id"
        " WHERE m.production_id = ANY(%s) AND m.state = 'done'"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [ids],
    )
    consumed = query(
        database,
        "SELECT m.raw_material_production_id, m.product_id, l.name, sum(ml.quantity)"
        " FROM stock_move m JOIN stock_move_line ml ON ml.move_id = m.id"
        " LEFT JOIN stock_lot l ON l.id = ml.lot_id"
        " WHERE m.raw_material_production_id = ANY(%s) AND m.state = 'done'"
        " AND m.scrap_id IS NULL"  # a scrapped component is on the order too, apart
        " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        [ids],
    )
    scraps = query(
        database,
        "SELECT production_id, product_id, scrap_qty, state FROM stock_scrap"
        " WHERE production_id = ANY(%s) ORDER BY id",
        [ids],
    )
    productivity = query(
        database,
        "SELECT p.workorder_id IS NOT NULL, l.loss_type, p.downtime_ref,"
        " p.maintenance_request_id, round(extract(epoch FROM p.date_end - p.date_start))"
        " FROM mrp_workcenter_productivity p"
        " JOIN mrp_workcenter_productivity_loss l ON l.id = p.loss_id"
        " WHERE p.workcenter_id = %s ORDER BY p.id",
        [plant["press"]],
    )
    requests = query(
        database,
        "SELECT id, maintenance_type, duration FROM maintenance_request"
        " WHERE equipment_id = %s ORDER BY id",
        [plant["equipment"]],
    )
    on_hand = query(
        database,
        "SELECT q.product_id, l.name, sum(q.quantity), sum(q.reserved_quantity)"
        " FROM stock_quant q"
        " LEFT JOIN stock_lot l ON l.id = q.lot_id"
        " WHERE q.product_id = ANY(%s) AND q.location_id = %s GROUP BY 1, 2 ORDER BY 1, 2",
        [[plant["steel"], plant["screw"], plant["bracket"]], plant["stock"]],
    )
    events = query(
        database,
        "SELECT event_uid, state, count(*) OVER (PARTITION BY event_uid) FROM"
        " mfg_integration_event WHERE system_id = %s AND direction = 'inbound' ORDER BY 1",
        [plant["system"]],
    )
    exceptions = query(
        database,
        "SELECT reason_code, state FROM mfg_integration_exception WHERE system_id = %s",
        [plant["system"]],
    )
    return {
        "chain": chain,
        "produced": produced,
        "consumed": consumed,
        "scraps": scraps,
        "productivity": productivity,
        "requests": requests,
        "on_hand": on_hand,
        "events": events,
        "exceptions": exceptions,
    }


def inbound_settled(database, system_id, count):
    rows = query(
        database,
        "SELECT state, count(*) FROM mfg_integration_event"
        " WHERE system_id = %s AND direction = 'inbound' GROUP BY state",
        [system_id],
    )
    states = dict(rows)
    pending = sum(states.get(s, 0) for s in ("received", "queued", "processing", "waiting"))
    return sum(states.values()) == count and not pending and states


def jobs_idle(database):
    return not query(
        database,
        "SELECT 1 FROM queue_job WHERE state IN ('pending', 'enqueued', 'started') LIMIT 1",
    )


def test_an_order_released_to_the_mes_and_its_shop_floor_events_applied_once(odoo_server):
    database = odoo_server.database
    receiver = FaultyReceiver(SECRET, read_timeout=5.0, fault_scale=0).start()
    admin = Admin(odoo_server)
    run = uuid.uuid4().hex[:6]  # the database may outlive a run during development
    try:
        plant = build_plant(admin, run, receiver.url)

        # 1. Odoo releases the confirmed order to the MES
        production = admin.create(
            "mrp.production", {"product_id": plant["bracket"], "product_qty": PLANNED}
        )
        admin("mrp.production", "action_confirm", [production])
        reference = admin("mrp.production", "read", [production], ["mes_order_ref"])[0][
            "mes_order_ref"
        ]
        assert reference, "a confirmed order gets its MES reference"
        assert wait_until(lambda: receiver.applied, timeout=60), "the release reached the MES"
        assert receiver.bad_signatures == 0
        [(webhook_id, [released])] = receiver.applied.items()
        assert webhook_id == released["id"]
        assert (released["type"], released["subject"]) == ("mes.order.released", reference)
        data = released["data"]
        assert (data["production_ref"], data["product_code"], data["qty"], data["uom"]) == (
            reference,
            f"BRK-{run}",
            PLANNED,
            "Units",
        )
        assert data["lot_tracking"] == "lot"
        components = {c["product_code"]: (c["qty"], c["tracking"]) for c in data["components"]}
        assert components == {
            f"STL-{run}": (PLANNED * STEEL_PER_UNIT, "lot"),
            f"SCR-{run}": (PLANNED * SCREWS_PER_UNIT, "none"),
        }
        operations = [(o["sequence"], o["workcenter"], o["name"]) for o in data["operations"]]
        assert operations == [
            (10, plant["press_code"], "Pressing"),
            (20, plant["bench_code"], "Assembly"),
        ]

        # 2. the MES reports what happened, one event at a time as it happens
        events = shop_floor_events(plant, reference)
        for event in events:
            status, body, _headers = post(odoo_server.url, plant["key"], event)
            assert (status, body["accepted"]) == (202, 1), body
        assert wait_until(
            lambda: inbound_settled(database, plant["system"], len(events)), timeout=180
        ), query(
            database,
            "SELECT event_type, state, error FROM mfg_integration_event"
            " WHERE system_id = %s AND direction = 'inbound'",
            [plant["system"]],
        )
        facts = odoo_facts(database, admin, plant, reference)

        # 3. every event stored once and done, nothing left for a person; that each was
        # applied once (a technical retry rolls back first) the effects below say
        assert facts["events"] == sorted((e["id"], "done", 1) for e in events)
        assert facts["exceptions"] == []

        # the order and its backorder, done with the reported quantities and lots
        chain = facts["chain"]
        assert [(o["state"], o["qty_produced"]) for o in chain] == [
            ("done", PARTIAL),
            ("done", FINAL),
        ]
        first, backorder = chain[0]["id"], chain[1]["id"]
        assert first == production
        assert facts["produced"] == [
            (first, f"F1-{run}", PARTIAL),
            (backorder, f"F2-{run}", FINAL),
        ]
        # steel: the reported consumption from the named lot, the rest backflushed from it
        steel = [row for row in facts["consumed"] if row[1] == plant["steel"]]
        assert steel[0] == (first, plant["steel"], plant["steel_lot_name"], STEEL_REPORTED)
        assert {row[2] for row in steel} == {plant["steel_lot_name"]}
        screws = {row[0]: row[3] for row in facts["consumed"] if row[1] == plant["screw"]}
        assert screws == {first: PARTIAL * SCREWS_PER_UNIT, backorder: FINAL * SCREWS_PER_UNIT}
        assert facts["scraps"] == [(first, plant["screw"], SCRAPPED_SCREWS, "done")]
        steel_used = sum(row[3] for row in steel)
        # what is left in stock, none of it still reserved for the closed orders
        assert facts["on_hand"] == sorted(
            [
                (plant["bracket"], f"F1-{run}", PARTIAL, 0),
                (plant["bracket"], f"F2-{run}", FINAL, 0),
                (plant["steel"], plant["steel_lot_name"], STEEL_ON_HAND - steel_used, 0),
                (
                    plant["screw"],
                    None,
                    SCREWS_ON_HAND - PLANNED * SCREWS_PER_UNIT - SCRAPPED_SCREWS,
                    0,
                ),
            ]
        )

        # the press: the started work order's time, and the breakdown with its request
        productivity = facts["productivity"]
        assert (True, "productive", None) in [row[:3] for row in productivity]
        [stop] = [row for row in productivity if row[2] == f"D-{run}"]
        [request] = facts["requests"]
        assert stop == (False, "availability", f"D-{run}", request[0], BREAKDOWN_MINUTES * 60)
        assert request[1:] == ("corrective", round(BREAKDOWN_MINUTES / 60, 2))

        # 4. the MES sends everything again (after its restart): nothing changes
        status, body, _headers = post(odoo_server.url, plant["key"], {"events": events})
        assert (status, body["duplicate"], body["accepted"]) == (200, len(events), 0), body
        assert wait_until(lambda: jobs_idle(database), timeout=60)
        assert odoo_facts(database, admin, plant, reference) == facts
        assert len(receiver.applied) == 1, "the MES heard of the order once"
    finally:
        receiver.stop()
        if "plant" in locals():
            # later tests confirm orders of their own: they are no concern of this MES
            admin("mfg.integration.system", "write", [plant["system"]], {"active": False})
