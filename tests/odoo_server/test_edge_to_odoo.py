"""The edge agent against the real Odoo: MQTT in, kill -9 at random moments, POST /mfg/v1/events.

The MES reports production completions of real released orders (a quantity and a unique lot
each). Every published message must be in Odoo exactly once and applied exactly once to its
order, and the agent's daily summary must report exactly what Odoo received, although some
batches were applied by Odoo while the agent died before it recorded the answer (their resend
is answered duplicate with the agent's own sequence), the broker redelivered messages that were
stored but not yet acknowledged, and the MES sent messages again long after they were delivered
(answered duplicate naming another sequence).

Each completion marks an order done and, but for an order's last one, leaves Odoo's backorder
for the next: about 0.15 s of work per message on a 2-core machine, where recording one costs
next to nothing. Hence 400 messages (3,000 when Odoo only recorded them), published at a pace
that still lets the kills land inside the stream, and consecutive messages reporting on the
same order, so the agent's batches mostly hold whole orders: a batch that shares an order with
the one before waits until that one is applied (subject order), at worst until the inbox's
one-minute cron that resumes waiting events.
"""

import random
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .server import Admin, query, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "edge"))

from edge_harness import (  # the harness lives with the edge tests
    MOSQUITTO,
    AgentProcess,
    Broker,
    Publisher,
    agent_config,
    kill_during,
    mes_rules,
    prime_session,
)

MESSAGES = 400
PER_ORDER = 4  # consecutive messages complete one order: 100 orders of 4 steps each
PACE = 20  # messages between two pauses of the publisher (~80 msgs/s)
KILLS = 6
REPLAYS = 200
CONTRACT = "mes.production.completed"
TOPIC = "plant1/+/mes/completed"
# The contract's fields only (its schema refuses others); the lot tells the messages apart.
# Version 1.0 has no 'final': a completion leaves a backorder until the order's quantity is met.
DATA = {
    "production_ref": "payload.work_order",
    "qty": {"selector": "payload.qty", "as": "number"},
    "lot": "payload.lot",
}


def _received(database, system_id):
    """{lot: copies} of the events Odoo holds from the system (rejected ones left out)."""
    rows = query(
        database,
        "SELECT payload->>'lot', count(*) FROM mfg_integration_event"
        " WHERE system_id = %s AND direction = 'inbound' AND event_type = %s"
        " AND state <> 'rejected' GROUP BY 1",
        [system_id, CONTRACT],
    )
    return dict(rows)


def _duplicates_answered(database, system_id):
    return query(
        database,
        "SELECT COALESCE(SUM(duplicates), 0) FROM mfg_integration_traffic WHERE system_id = %s",
        [system_id],
    )[0][0]


def quantity(n):
    """Message ``n`` reports 1, 2 or 3 units (so a chain's total tells its messages apart)."""
    return 1 + n % 3


def release_orders(odoo_server, run):
    """One confirmed order per PER_ORDER messages, planned for exactly what they report, of a
    lot-tracked product without components; returns (product id, MES references)."""
    admin = Admin(odoo_server)
    product = admin.create(
        "product.product",
        {"name": f"Edge widget {run}", "default_code": f"EW-{run}", "is_storable": True,
         "tracking": "lot"},
    )  # fmt: skip
    planned = [
        sum(quantity(n) for n in range(start, start + PER_ORDER))
        for start in range(0, MESSAGES, PER_ORDER)
    ]
    orders = admin.create(
        "mrp.production", [{"product_id": product, "product_qty": qty} for qty in planned]
    )
    admin("mrp.production", "action_confirm", orders)
    read = admin("mrp.production", "read", orders, ["mes_order_ref", "state"])
    assert {order["state"] for order in read} == {"confirmed"}
    return product, [order["mes_order_ref"] for order in read]


def _applied(database, system_id):
    """{state: count} of the completions Odoo holds from the system."""
    rows = query(
        database,
        "SELECT state, count(*) FROM mfg_integration_event"
        " WHERE system_id = %s AND direction = 'inbound' AND event_type = %s"
        " AND state <> 'rejected' GROUP BY 1",
        [system_id, CONTRACT],
    )
    return dict(rows)


def test_agent_to_odoo_kill9_exactly_once_and_the_summary_matches(odoo_server, tmp_path):
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (setup/run.sh installs it)")
    database = odoo_server.database
    system_id, key = odoo_server.create_system(
        "edge_e2e", [CONTRACT, "edge.heartbeat", "integration.sent.summary"]
    )
    run = uuid.uuid4().hex[:8]  # the database may outlive a run during development
    product, references = release_orders(odoo_server, run)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    broker = Broker(tmp_path / "broker").start()
    config = agent_config(
        tmp_path,
        receiver_url=odoo_server.url,
        broker_port=broker.port,
        rules=mes_rules(TOPIC, data=DATA),
        client_id=f"edge-e2e-{run}",
        agent={"source": f"plant1/gw-e2e-{run}", "heartbeat_interval_s": 5},
        odoo={"batch_size": 200},
    )
    prime_session(broker.port, f"edge-e2e-{run}", [TOPIC])
    agent = AgentProcess(config, tmp_path / "agent.log", api_key=key).start()
    publisher = Publisher(broker.port, client_id=f"mes-e2e-{run}")
    rng = random.Random(18)

    def publish(n):
        publisher.publish(
            f"plant1/line{n % 3}/mes/completed",
            {
                "msg_id": f"{run}-{n}",
                "ts": f"{yesterday}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "work_order": references[n // PER_ORDER],
                "qty": quantity(n),
                "lot": f"L-{n}",
            },
        )

    def publish_all():
        for n in range(MESSAGES):
            publish(n)
            if n % PACE == PACE - 1:
                time.sleep(0.25)  # the kills land inside the stream

    publishing = threading.Thread(target=publish_all)
    publishing.start()
    kills = kills_during_stream = 0
    try:
        kills_during_stream = kill_during(agent, publishing, KILLS, rng, pause_s=(0.3, 1.2))
        kills = KILLS
        publishing.join(120)
        publisher.confirm_all(60)
        assert wait_until(
            lambda: len(_received(database, system_id)) >= MESSAGES, timeout=180, interval=1
        ), f"Odoo has {len(_received(database, system_id))} of {MESSAGES}"
        # The MES sends messages again that were delivered long ago (after its own restart):
        # the agent queues and sends them, Odoo answers duplicate naming another sequence,
        # and the summary must not count them a second time.
        answered_before = _duplicates_answered(database, system_id)
        for n in range(REPLAYS):
            publish(n)
        publisher.confirm_all(60)
        assert wait_until(
            lambda: _duplicates_answered(database, system_id) >= answered_before + REPLAYS,
            timeout=60,
        ), "the replays reached Odoo"
        # A restart runs the summary at once: yesterday's backlog is sent, so it is due now.
        agent.stop()
        agent.start()
        reported = wait_until(
            lambda: query(
                database,
                "SELECT reported_count FROM mfg_integration_sent_count"
                " WHERE system_id = %s AND day = %s AND event_type = %s"
                " AND reported_count = %s",
                [system_id, yesterday, CONTRACT, MESSAGES],
            ),
            timeout=90,
            interval=1,
        )
        time.sleep(2.0)  # anything resent after the last one would show up now
        received = _received(database, system_id)
        last_reports = query(
            database,
            "SELECT reported_count FROM mfg_integration_sent_count"
            " WHERE system_id = %s AND day = %s AND event_type = %s",
            [system_id, yesterday, CONTRACT],
        )
        answers = _duplicates_answered(database, system_id)
    finally:
        agent.stop()
        publisher.close()
        broker.stop()
    log = (tmp_path / "agent.log").read_text(errors="replace")
    print(
        f"kills={kills} (during stream {kills_during_stream}) received={len(received)}"
        f" reported={last_reports} duplicates answered={answers}"
    )
    assert kills == KILLS and kills_during_stream >= KILLS // 2
    assert sorted(received) == sorted(f"L-{n}" for n in range(MESSAGES)), "none lost"
    assert set(received.values()) == {1}, "none applied twice"
    assert reported and last_reports == [(MESSAGES,)], "the summary reports what Odoo received"
    assert "Traceback" not in log, log[-3000:]
    heartbeats = query(
        database,
        "SELECT count(*) FROM mfg_integration_event WHERE system_id = %s"
        " AND event_type = 'edge.heartbeat' AND state <> 'rejected'",
        [system_id],
    )[0][0]
    assert heartbeats >= 1, "the gateway's heartbeats reach Odoo"

    # Every completion applied once, to its order: its lot made once, with its quantity.
    settled = wait_until(
        lambda: sum(
            count
            for state, count in _applied(database, system_id).items()
            if state not in ("received", "queued", "processing", "waiting")
        )
        == MESSAGES,
        timeout=240,
        interval=1,
    )
    assert settled and _applied(database, system_id) == {"done": MESSAGES}, query(
        database,
        "SELECT state, error FROM mfg_integration_event WHERE system_id = %s"
        " AND event_type = %s AND state NOT IN ('done', 'rejected') LIMIT 5",
        [system_id, CONTRACT],
    )
    assert not query(
        database, "SELECT 1 FROM mfg_integration_exception WHERE system_id = %s", [system_id]
    ), "no exception to handle"
    made = query(
        database,
        "SELECT l.name, p.mes_order_ref, count(*), sum(ml.quantity) FROM stock_move_line ml"
        " JOIN stock_move m ON m.id = ml.move_id JOIN mrp_production p ON p.id = m.production_id"
        " JOIN stock_lot l ON l.id = ml.lot_id"
        " WHERE p.product_id = %s AND m.state = 'done' GROUP BY 1, 2",
        [product],
    )
    assert sorted(made) == sorted(
        (f"L-{n}", references[n // PER_ORDER], 1, quantity(n)) for n in range(MESSAGES)
    ), "each lot produced once, on its order, with the message's quantity"
    chains = query(
        database,
        "SELECT p.mes_order_ref, count(*), array_agg(DISTINCT p.state),"
        " sum(p.product_qty), sum(m.quantity)"
        " FROM mrp_production p LEFT JOIN stock_move m ON m.production_id = p.id"
        " AND m.state = 'done' WHERE p.product_id = %s GROUP BY 1",
        [product],
    )
    planned = {
        reference: sum(quantity(n) for n in range(MESSAGES) if n // PER_ORDER == index)
        for index, reference in enumerate(references)
    }
    assert sorted(chains) == sorted(
        (reference, PER_ORDER, ["done"], total, total) for reference, total in planned.items()
    ), "every order done in one step per message (a backorder each but the last)"
