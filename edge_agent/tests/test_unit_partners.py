"""The demo partner systems (mfg_edge.partners): their messages validate against the flow
addons' contracts, and each system answers Odoo's events and steps as a real one would."""

import io
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from mfg_edge.partners import messages
from mfg_edge.partners.systems import Cmms, Crm, PartnerState, SupplierPortal, Wms
from mfg_edge.webhooks import Route, WebhookReceiver, sign_headers

ADDONS = Path(__file__).resolve().parents[2] / "addons"
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def contract(code: str) -> dict:
    (path,) = ADDONS.glob(f"*/contracts/{code}/1.0.json")
    return json.loads(path.read_text())


def assert_valid(code: str, data: dict) -> None:
    validator = Draft202012Validator(contract(code)["schema"], format_checker=FormatChecker())
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, f"{code}: {errors}"


ORDER = {
    "name": "P00007",
    "lines": [
        {"product_code": "SS-PL3-1250", "qty": 100.0, "date_planned": "2026-12-07T10:00:00Z",
         "price_unit": 4.2, "tracked": True, "confirmed": False},
        {"product_code": "F-M8X30", "qty": 500.0, "date_planned": "2026-12-07T10:00:00Z",
         "price_unit": 0.08, "tracked": False, "confirmed": False},
    ],
    "open_receipt": True,
    "notified": False,
}  # fmt: skip


def test_supplier_messages_follow_the_contracts():
    rng = random.Random(1)
    confirmation = messages.po_confirmation(ORDER, rng)
    assert_valid("supplier.po.confirmed", confirmation)
    assert [line["confirmed_qty"] for line in confirmation["lines"]] == [100.0, 500.0]
    notice = messages.shipment_notice(ORDER, rng, NOW)
    assert_valid("supplier.shipment.notified", notice)
    lots = [line.get("lot") for line in notice["lines"]]
    assert lots[0] and lots[1] is None, "a lot for the tracked line only"


def test_cmms_messages_follow_the_contracts():
    request = contract("maintenance.request.created")["example"]
    created = messages.workorder_for_request("WO-1001", request, NOW)
    assert_valid("cmms.workorder.created", created)
    assert request["request_ref"] in created["description"]
    assert messages.request_equipment({**request, "equipment": None}) is None
    assert_valid(
        "cmms.workorder.created", messages.preventive_workorder("WO-1", random.Random(2), NOW)
    )
    assert_valid("cmms.technician.assigned", messages.technician_assigned("WO-1"))
    assert_valid("cmms.part.consumed", messages.part_consumed("WO-1", "SKF-6204-2RS", 1))
    assert_valid("cmms.workorder.completed", messages.workorder_completed("WO-1", 1.5, NOW))


def test_the_wms_ships_what_odoo_released_lot_by_lot():
    release = {
        "delivery_ref": "WH/OUT/00012",
        "ship_to": {"name": "Deco Addict"},
        "lines": [
            {"product_code": "BRK-100", "qty": 10, "uom": "EA",
             "lots": [{"lot": "L-1", "qty": 4}, {"lot": "L-2", "qty": 6}]},
            {"product_code": "CBX-200", "qty": 3, "uom": "EA"},
        ],
    }  # fmt: skip
    assert_valid("wms.delivery.released", release)
    shipment = messages.shipment_confirmation(release, "SHP-501", random.Random(3), NOW)
    assert_valid("wms.shipment.confirmed", shipment)
    assert [(line["product_code"], line["qty"], line.get("lot")) for line in shipment["lines"]] == [
        ("BRK-100", 4, "L-1"),
        ("BRK-100", 6, "L-2"),
        ("CBX-200", 3, None),
    ]


def test_crm_orders_follow_the_contract_and_use_the_mapped_codes():
    rng = random.Random(4)
    for number in range(20):
        order = messages.crm_order(f"CRM-SO-{number}", ["BRK-100", "CBX-200"], rng, NOW)
        assert_valid("crm.order.placed", order)
        assert order["customer_code"] in ("CUST-0042", "CUST-0077")
        assert {line["product_code"] for line in order["lines"]} <= {"BRK-100", "CBX-200"}


def test_envelope_ids_repeat_for_the_same_step_only():
    data = messages.technician_assigned("WO-1")
    first = messages.envelope(
        "plant1_cmms/demo", "42", "cmms.technician.assigned", "WO-1", data, "a"
    )
    again = messages.envelope(
        "plant1_cmms/demo", "42", "cmms.technician.assigned", "WO-1", data, "a"
    )
    other_run = messages.envelope(
        "plant1_cmms/demo", "43", "cmms.technician.assigned", "WO-1", data, "a"
    )
    assert first["id"] == again["id"] != other_run["id"]
    assert first["dataschema"] == "urn:mfg:contract:cmms.technician.assigned:1.0"
    assert first["subject"] == "WO-1" and first["data"] == data


class FakeReader:
    def __init__(self, orders=None, free=None):
        self.orders = orders or []
        self.free = free or {}

    def supplier_orders(self):
        return self.orders

    def free_quantities(self, codes):
        return {code: self.free.get(code, 0.0) for code in codes}


def run_steps(system, count=20):
    """Take ``count`` steps, each message taken by Odoo; their (type, subject) in order."""
    sent = []
    for _ in range(count):
        planned = system.step()
        if planned is None:
            continue
        event, memo = planned
        assert_valid(event["type"], event["data"])
        sent.append((event["type"], event["subject"]))
        system.sent(memo)
    return sent


def test_the_supplier_portal_confirms_then_notifies_each_order_once(tmp_path):
    state = PartnerState(str(tmp_path / "state.json"), "demo", "42")
    reader = FakeReader([json.loads(json.dumps(ORDER))])
    portal = SupplierPortal(state, random.Random(5), reader)
    assert run_steps(portal, 3) == [("supplier.po.confirmed", "P00007")]
    for line in reader.orders[0]["lines"]:  # Odoo applied the confirmation
        line["confirmed"] = True
    assert run_steps(portal, 3) == [("supplier.shipment.notified", "P00007")]
    assert run_steps(portal, 3) == []
    again = PartnerState(str(tmp_path / "state.json"), "demo", "42")
    assert again.data["supplier"]["notified"] == ["P00007"], "remembered across restarts"
    assert (
        PartnerState(str(tmp_path / "state.json"), "other", "42").data["supplier"]["notified"] == []
    )


@pytest.mark.parametrize("free, consumed", [({"BRG-6204": 5, "FLT-H10": 5}, True), ({}, False)])
def test_the_cmms_answers_a_request_and_books_only_free_parts(tmp_path, free, consumed):
    state = PartnerState(None, "demo", "42")
    cmms = Cmms(state, random.Random(6), FakeReader(free=free))
    request = {"type": "maintenance.request.created", "id": "e1",
               "data": contract("maintenance.request.created")["example"]}  # fmt: skip
    assert cmms.apply(request) == "queued for planning"
    assert cmms.apply(request) == "duplicate"
    kinds = [kind for kind, _subject in run_steps(cmms, 4)]
    expected = ["cmms.workorder.created", "cmms.technician.assigned"]
    expected += ["cmms.part.consumed"] if consumed else []
    expected += ["cmms.workorder.completed"]
    assert kinds == expected
    assert state.data["cmms"]["done"] == 1 and not state.data["cmms"]["workorders"]


def test_the_cmms_takes_repeated_breakdowns_of_one_machine_along_and_waits_for_a_free_crew():
    state = PartnerState(None, "demo", "42")
    cmms = Cmms(state, random.Random(6), FakeReader())
    example = contract("maintenance.request.created")["example"]

    def request(number, equipment):
        data = dict(example, request_ref=f"maintenance.request/{number}", equipment=equipment)
        return {"type": "maintenance.request.created", "id": f"e{number}", "data": data}

    assert cmms.apply(request(1, "Machine M1")) == "queued for planning"
    assert cmms.apply(request(2, "Machine M1")) == "covered by a work order being planned"
    assert cmms.apply(request(3, None)) == "ignored: no equipment named"
    assert run_steps(cmms, 1) == [("cmms.workorder.created", "WO-1001")]
    assert cmms.apply(request(4, "Machine M1")) == "covered by WO-1001"
    assert cmms.apply(request(5, "Robot A1")) == "queued for planning"
    assert cmms.apply(request(6, "Press P2")) == "queued for planning"
    assert run_steps(cmms, 2) == [
        ("cmms.workorder.created", "WO-1002"),
        ("cmms.technician.assigned", "WO-1001"),
    ], "two crews busy: the press's request waits"
    assert [r["equipment"] for r in state.data["cmms"]["requests"]] == ["Press P2"]
    assert run_steps(cmms, 2) == [
        ("cmms.workorder.completed", "WO-1001"),
        ("cmms.workorder.created", "WO-1003"),
    ]


def test_the_cmms_plans_preventive_work_when_idle():
    state = PartnerState(None, "demo", "42")
    cmms = Cmms(state, random.Random(7), FakeReader())
    sent = run_steps(cmms, 30)
    assert sent.count(("cmms.workorder.created", "WO-1001")) == 1
    assert ("cmms.workorder.completed", "WO-1001") in sent


def test_the_wms_ships_each_released_delivery_once():
    state = PartnerState(None, "demo", "42")
    wms = Wms(state, random.Random(8))
    release = {"delivery_ref": "WH/OUT/00012",
               "lines": [{"product_code": "BRK-100", "qty": 2, "uom": "EA"}]}  # fmt: skip
    event = {"type": "wms.delivery.released", "id": "r1", "data": release}
    assert wms.apply(event) == "to pick"
    assert run_steps(wms, 3) == [("wms.shipment.confirmed", "WH/OUT/00012")]
    assert wms.apply(dict(event, id="r2")) == "ignored", "a delivery shipped is not picked again"
    other = {"delivery_ref": "WH/OUT/00013", "lines": [{"product_code": "FURN_6667", "qty": 1}]}
    outcome = wms.apply({"type": "wms.delivery.released", "id": "r3", "data": other})
    assert outcome == "ignored: FURN_6667 not stocked here"
    assert run_steps(wms, 3) == [], "Odoo's other demo goods are not the WMS's to ship"


def test_the_crm_places_a_bounded_number_of_orders():
    state = PartnerState(None, "demo", "42")
    crm = Crm(state, random.Random(9))
    sent = run_steps(crm, 500)
    assert len(sent) == 12
    assert len({subject for _kind, subject in sent}) == 12
    status = {"type": "crm.delivery.status", "id": "s1", "data": {}}
    assert crm.apply(status) == "recorded on the CRM order"
    assert state.data["crm"]["delivery_status"] == 1


def test_one_webhook_port_serves_each_system_with_its_own_secret():
    taken = []
    secrets = {
        "a": "whsec_YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh",
        "b": "whsec_YmJiYmJiYmJiYmJiYmJiYmJiYmJi",
    }
    routes = {
        f"/{name}/events": Route(secret, taken.append, name) for name, secret in secrets.items()
    }
    receiver = WebhookReceiver(routes, "127.0.0.1", 0)
    body = json.dumps({"id": "e1", "type": "t", "subject": "s"}).encode()

    def post(path, secret):
        headers = {
            "Content-Length": str(len(body)),
            **sign_headers(secret, "e1", body, time.time()),
        }
        return receiver.handle(path, headers, io.BytesIO(body))[0]

    assert post("/a/events", secrets["a"]) == 200
    assert post("/b/events", secrets["a"]) == 401, "b's endpoint takes only b's signature"
    assert post("/c/events", secrets["a"]) == 404
    assert [event["id"] for event in taken] == ["e1"]
    receiver.server.server_close()
