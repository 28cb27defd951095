"""Each fault switch of the SAP emulator, seen through the addon's OData client, and a write
retried after a dropped answer that leaves exactly one confirmation."""

import time
import uuid

import pytest
import requests
from sap_harness import CONFIRMATIONS, DOCUMENTS, ORDERS
from sap_odata.errors import (
    ConnectionFailed,
    ODataTimeout,
    RateLimited,
    SapBusinessError,
    SapTechnicalError,
)
from sap_odata.values import string_literal


def confirmation(order="1000000", operation="0010", quantity="2", external=None):
    return {
        "OrderID": order,
        "OrderOperation": operation,
        "ConfirmationYieldQuantity": quantity,
        "ExternalSystemConfirmation": external or uuid.uuid4().hex,
    }


def issue(order="1000000", material="RM-PLT3MM", quantity="1.5"):
    return {
        "GoodsMovementCode": "03",
        "to_MaterialDocumentItem": [
            {
                "Material": material,
                "Plant": "1010",
                "StorageLocation": "0001",
                "GoodsMovementType": "261",
                "ManufacturingOrder": order,
                "QuantityInEntryUnit": quantity,
            }
        ],
    }


def confirmations_of(client, external):
    return list(
        client.iter_entities(
            "ProdnOrdConf2", filter=f"ExternalSystemConfirmation eq {string_literal(external)}"
        )
    )


def post_exactly_once(client, body, attempts=10):
    """What the flow does: post; after an answer that was lost, look the key up first and post
    again only when SAP has no confirmation with it."""
    for _attempt in range(attempts):
        try:
            found = confirmations_of(client, body["ExternalSystemConfirmation"])
            if found:
                return found[0]
            return client.create("ProdnOrdConf2", body)
        except SapTechnicalError:
            continue
    raise AssertionError("no confirmation after all attempts")


def test_latency_is_added_to_each_request(emulator, client_for):
    orders = client_for(ORDERS)
    orders.get_json("A_ProductionOrder_2", {"$top": "1"})
    emulator.set_faults(latency_ms=120)
    started = time.perf_counter()
    for _ in range(3):
        orders.get_json("A_ProductionOrder_2", {"$top": "1"})
    assert time.perf_counter() - started >= 0.36
    emulator.set_faults(latency_ms=0, jitter_ms=50, seed=3)
    delays = [emulator.emulator.faults.delay_s() for _ in range(20)]
    assert all(0 <= delay <= 0.05 for delay in delays) and len(set(delays)) > 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_burst_answers_with_retry_after_then_ends(emulator, client_for, status):
    orders = client_for(ORDERS)
    emulator.set_faults(burst_count=2, burst_status=status, retry_after_s=7)
    for _ in range(2):
        with pytest.raises(SapTechnicalError) as raised:
            orders.get_json("A_ProductionOrder_2", {"$top": "1"})
        assert raised.value.status == status and raised.value.retry_after == 7
        assert isinstance(raised.value, RateLimited) == (status == 429)
    assert orders.get_json("A_ProductionOrder_2", {"$top": "1"})["d"]["results"]
    assert emulator.state()["faults_injected"][f"http_{status}"] == 2


def test_rates_with_a_seed_repeat_the_same_run(emulator, client_for):
    orders = client_for(ORDERS)

    def run():
        emulator.set_faults(rate_503=0.3, rate_429=0.1, seed=11)
        outcomes = []
        for _ in range(40):
            try:
                orders.get_json("A_ProductionOrder_2", {"$top": "1"})
                outcomes.append(200)
            except SapTechnicalError as error:
                outcomes.append(error.status)
        return outcomes

    first, second = run(), run()
    assert first == second
    assert 503 in first and 200 in first


def test_business_errors_for_an_order_a_material_and_by_count(emulator, client_for):
    confirmations, documents = client_for(CONFIRMATIONS), client_for(DOCUMENTS)
    emulator.set_faults(
        business_errors=[
            {"kind": "order_locked", "order": "1000001"},
            {"kind": "unknown_material", "material": "RM-BLT-M8"},
            {"kind": "period_closed", "count": 1},
        ]
    )
    with pytest.raises(SapBusinessError) as raised:
        confirmations.create("ProdnOrdConf2", confirmation(order="1000001"))
    assert raised.value.status == 400 and raised.value.code == "CO/473"
    assert "Order 1000001 is currently being processed" in raised.value.sap.message
    with pytest.raises(SapBusinessError) as raised:
        documents.create("A_MaterialDocumentHeader", issue(material="RM-BLT-M8", quantity="4"))
    assert raised.value.code == "M3/305" and "RM-BLT-M8" in raised.value.sap.message
    with pytest.raises(SapBusinessError) as raised:  # the period rule, once
        confirmations.create("ProdnOrdConf2", confirmation(order="1000002"))
    assert raised.value.code == "M7/053" and "Posting only possible in periods" in str(raised.value)
    assert confirmations.create("ProdnOrdConf2", confirmation(order="1000002"))["ConfirmationCount"]
    assert emulator.state()["active_confirmations"] == 1
    assert emulator.state()["material_documents"] == 0


def test_a_business_error_rate_is_drawn_from_the_seed(emulator, client_for):
    confirmations = client_for(CONFIRMATIONS)
    emulator.set_faults(business_errors=[{"kind": "period_closed", "rate": 0.5}], seed=5)
    refused = 0
    for _ in range(30):
        try:
            confirmations.create("ProdnOrdConf2", confirmation(quantity="1"))
        except SapBusinessError:
            refused += 1
    assert 5 < refused < 25
    assert emulator.state()["active_confirmations"] == 30 - refused


def test_dropped_before_the_write_applied_nothing(emulator, client_for):
    confirmations = client_for(CONFIRMATIONS)
    confirmations.fetch_csrf_token()
    emulator.set_faults(drop_before_count=1)
    body = confirmation()
    with pytest.raises(ConnectionFailed) as raised:
        confirmations.create("ProdnOrdConf2", body)
    assert raised.value.maybe_applied
    assert confirmations_of(confirmations, body["ExternalSystemConfirmation"]) == []


def test_dropped_after_the_write_applied_it_and_the_lookup_keeps_it_single(emulator, client_for):
    confirmations = client_for(CONFIRMATIONS)
    confirmations.fetch_csrf_token()
    emulator.set_faults(drop_after_count=1)
    body = confirmation()
    with pytest.raises(ConnectionFailed) as raised:
        confirmations.create("ProdnOrdConf2", body)
    assert raised.value.maybe_applied
    assert len(confirmations_of(confirmations, body["ExternalSystemConfirmation"])) == 1
    # a blind retry is recognised by SAP: a business error naming the existing confirmation
    with pytest.raises(SapBusinessError) as raised:
        confirmations.create("ProdnOrdConf2", body)
    assert raised.value.code == "RU/505" and body["ExternalSystemConfirmation"] in str(raised.value)
    assert (
        post_exactly_once(confirmations, body)["ExternalSystemConfirmation"]
        == body["ExternalSystemConfirmation"]
    )
    assert (
        len(emulator.confirmations(ExternalSystemConfirmation=body["ExternalSystemConfirmation"]))
        == 1
    )


def test_timeouts_after_the_write(emulator, client_for):
    confirmations = client_for(CONFIRMATIONS, timeout=(2.0, 0.3))
    confirmations.fetch_csrf_token()
    emulator.set_faults(timeout_count=1, timeout_ms=1500)
    body = confirmation()
    with pytest.raises(ODataTimeout) as raised:
        confirmations.create("ProdnOrdConf2", body)
    assert raised.value.maybe_applied
    assert (
        len(emulator.confirmations(ExternalSystemConfirmation=body["ExternalSystemConfirmation"]))
        == 1
    )


def test_posting_many_under_mixed_random_faults_confirms_each_key_once(emulator, client_for):
    confirmations = client_for(CONFIRMATIONS, timeout=(2.0, 0.5))
    emulator.set_faults(
        seed=23,
        rate_503=0.05,
        rate_429=0.03,
        rate_csrf_expiry=0.05,
        rate_drop_before=0.05,
        rate_drop_after=0.08,
        rate_timeout=0.03,
        timeout_ms=800,
        retry_after_s=0,
    )
    keys = [f"mixed-{n}" for n in range(60)]
    for number, key in enumerate(keys):
        post_exactly_once(
            confirmations, confirmation(order=f"{1000000 + number % 9}", quantity="1", external=key)
        )
    state = emulator.state()
    emulator.clear_faults()
    assert state["active_confirmations"] == 60 and state["external_keys"] == 60
    assert state["external_keys_confirmed_twice"] == 0
    assert state["faults_injected"]  # the run did meet faults


def test_fault_switches_are_checked(emulator):
    url = emulator.url + "/__emulator__/faults"
    for wrong in (
        {"rate_503": 1.5},
        {"burst_status": 500},
        {"no_such_switch": 1},
        {"business_errors": [{"kind": "x"}]},
    ):
        assert requests.post(url, json=wrong, timeout=5).status_code == 400
    assert requests.post(url, json={"latency_ms": 5}, timeout=5).json()["latency_ms"] == 5
    assert requests.delete(url, timeout=5).json()["latency_ms"] == 0
    state = requests.get(emulator.url + "/__emulator__/state", timeout=5).json()
    assert state["orders"] == 60
