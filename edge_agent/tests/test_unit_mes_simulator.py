"""The simulator's MES: the plan of an order, its order book and Odoo's signed webhook."""

import base64
import json
import random
import time
import urllib.error
import urllib.request

import pytest

from mfg_edge.mes_simulator import MesWebhookReceiver, OrderBook, plan_order
from mfg_edge.webhooks import signature, verify

SECRET = "whsec_" + base64.b64encode(b"unit-test-secret-0123456789abcdef").decode()


def release(ref="WH/MO/00042", qty=20, lots=None, operations=True):
    return {
        "production_ref": ref,
        "product_code": "BRK-100",
        "qty": qty,
        "uom": "Units",
        "lot_tracking": "lot",
        "components": [
            {
                "product_code": "PLT-3MM",
                "qty": qty,
                "uom": "Units",
                "tracking": "lot",
                "lots": lots
                if lots is not None
                else [{"lot": "A", "qty": 5}, {"lot": "B", "qty": qty - 5}],
            },
            {"product_code": "BOLT-M8", "qty": 4 * qty, "uom": "Units", "tracking": "none"},
        ],
        "operations": [
            {"sequence": 10, "workcenter": "M1", "name": "Cutting"},
            {"sequence": 20, "workcenter": "ASM1", "name": "Assembly"},
        ]
        if operations
        else [],
    }


def events(plan, kind):
    return [step["payload"] for step in plan if step["event"] == kind]


@pytest.mark.parametrize("seed", range(25))
def test_a_plan_produces_the_order_once_and_consumes_exactly_the_staged_lots(seed):
    plan = plan_order(release(qty=20), random.Random(seed))
    completed = events(plan, "completed")
    assert [c["qty"] for c in completed] == [10, 10]
    assert [c["final"] for c in completed] == [False, True]
    assert [c["lot"] for c in completed] == ["WH-MO-00042-1", "WH-MO-00042-2"]
    consumed = events(plan, "consumed")
    by_lot = {}
    for entry in consumed:
        assert entry["component"] == "PLT-3MM", "untracked components are left to backflush"
        by_lot[entry["lot"]] = by_lot.get(entry["lot"], 0) + entry["qty"]
    assert by_lot == {"A": 5, "B": 15}
    # half of it before the partial completion, the rest before the final one
    first_completion = next(i for i, s in enumerate(plan) if s["event"] == "completed")
    before = sum(s["payload"]["qty"] for s in plan[:first_completion] if s["event"] == "consumed")
    assert before == 10
    progress = events(plan, "progress")
    assert progress[-1]["qty_done"] == 20
    assert sum(p["qty"] for p in progress) == 20
    started = events(plan, "started")
    assert [(s["machine"], s["operation"]) for s in started] == [
        ("M1", "Cutting"),
        ("ASM1", "Assembly"),
    ]
    # every stop that starts ends, on the same machine with the same id
    starts = events(plan, "downtime_started")
    ends = events(plan, "downtime_ended")
    assert [(s["downtime_id"], s["machine"]) for s in starts] == [
        (e["downtime_id"], e["machine"]) for e in ends
    ]
    scrap = events(plan, "scrap")
    assert all(s["lot"] == "WH-MO-00042-1" and s["qty"] == 1 for s in scrap)


def test_a_small_order_is_completed_once_and_an_order_without_operations_still_runs():
    plan = plan_order(
        release(qty=6, lots=[{"lot": "A", "qty": 6}], operations=False), random.Random(1)
    )
    assert [(c["qty"], c["final"]) for c in events(plan, "completed")] == [(6, True)]
    assert "machine" not in events(plan, "started")[0]
    assert events(plan, "downtime_started") == []  # a stop needs a machine
    assert [(c["lot"], c["qty"]) for c in events(plan, "consumed")] == [("A", 6)]


def test_the_order_book_applies_each_odoo_event_once_and_resumes_after_a_restart(tmp_path):
    path = str(tmp_path / "orders.json")
    book = OrderBook(path, seed=7)
    released = {"id": "e1", "type": "mes.order.released", "data": release()}
    assert book.apply(released) == "released"
    assert book.apply(released) == "duplicate"
    changed = {
        "id": "e2",
        "type": "mes.order.changed",
        "data": {"production_ref": "WH/MO/00042", "qty": 30},
    }
    assert book.apply(changed) == "changed"
    reference, order = book.take(timeout=0)
    assert reference == "WH/MO/00042"
    assert order["release"]["qty"] == 30
    plan_ids = [step["id"] for step in order["plan"]]
    assert book.advance(reference) and book.advance(reference)

    # the simulator is killed: its successor resumes the order at its step, same message ids
    again = OrderBook(path, seed=7)
    assert again.apply(released) == "duplicate"
    reference, order = again.take(timeout=0)
    assert order["step"] == 2
    assert [step["id"] for step in order["plan"]] == plan_ids


def test_cancelled_or_closed_orders_stop_their_line(tmp_path):
    book = OrderBook(str(tmp_path / "orders.json"))
    for number in (1, 2):
        data = release(ref=f"WH/MO/{number:05d}")
        book.apply({"id": f"r{number}", "type": "mes.order.released", "data": data})
    reference, _order = book.take(timeout=0)
    book.apply({"id": "c1", "type": "mes.order.cancelled", "data": {"production_ref": reference}})
    assert book.advance(reference) is False
    closed = {
        "id": "c2",
        "type": "mes.order.closed",
        "data": {"production_ref": "WH/MO/00002", "qty_produced": 20, "uom": "Units"},
    }
    assert book.apply(closed).startswith("closed")
    assert book.take(timeout=0) is None
    assert book.counts() == {"cancelled": 1, "closed": 1}


def test_signatures_are_verified_like_standard_webhooks():
    body = b'{"id":"x"}'
    now = time.time()
    stamp = str(int(now))
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": "v1,bad " + signature(SECRET, "msg_1", stamp, body),
    }
    assert verify(SECRET, headers, body, now=now) is None
    assert "no signature" in verify(SECRET, headers, body + b" ", now=now)
    assert "too far" in verify(SECRET, headers, body, now=now + 600)
    assert "required" in verify(SECRET, {}, body, now=now)


def _post(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_webhook_takes_signed_batches_and_refuses_the_rest(tmp_path):
    book = OrderBook(None)
    receiver = MesWebhookReceiver(book, "127.0.0.1", 0, SECRET)
    receiver.start()
    try:
        url = f"http://127.0.0.1:{receiver.port}/mes/events"
        batch = [
            {"id": "e1", "type": "mes.order.released", "data": release(ref="WH/MO/00001")},
            {"id": "e2", "type": "mes.order.released", "data": release(ref="WH/MO/00002")},
        ]
        body = json.dumps(batch).encode()
        stamp = str(int(time.time()))
        signed = {
            "Content-Type": "application/cloudevents-batch+json",
            "webhook-id": "batch_1",
            "webhook-timestamp": stamp,
            "webhook-signature": signature(SECRET, "batch_1", stamp, body),
        }
        assert _post(url, body, signed) == (200, {"accepted": 2})
        assert _post(url, body, signed) == (200, {"accepted": 2})  # a redelivery
        assert book.counts() == {"queued": 2}
        forged = dict(
            signed, **{"webhook-signature": signature("whsec_b3RoZXI=", "batch_1", stamp, body)}
        )
        assert _post(url, body, forged)[0] == 401
        assert _post(url.replace("/mes/events", "/other"), body, signed)[0] == 404
        bad = b"not json"
        assert (
            _post(
                url,
                bad,
                dict(signed, **{"webhook-signature": signature(SECRET, "batch_1", stamp, bad)}),
            )[0]
            == 400
        )
    finally:
        receiver.close()


def test_a_close_delivered_right_after_the_release_stops_the_order_before_a_line_takes_it():
    book = OrderBook(None, settle_s=30.0)
    release = {"production_ref": "WH/MO/9", "product_code": "P", "qty": 1, "operations": []}
    book.apply({"type": "mes.order.released", "id": "e1", "data": release})
    assert book.take(timeout=0) is None, "the order settles before a line takes it"
    book.apply({"type": "mes.order.closed", "id": "e2", "data": {"production_ref": "WH/MO/9"}})
    book.orders["WH/MO/9"]["received"] -= 60  # the settling time has passed
    assert book.take(timeout=0) is None
    assert book.counts() == {"closed": 1}
