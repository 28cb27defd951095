"""The SAP emulator's protocol through the addon's OData client: reads, paging, filters,
``$metadata``, authentication, ``sap-client``, CSRF, ETags, ``$batch`` and its kept state."""

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from sap_harness import (
    BOMS,
    CONFIRMATIONS,
    DOCUMENTS,
    ORDERS,
    PASSWORD,
    PRODUCTS,
    REPO,
    STOCK,
    USER,
    client,
    start_emulator,
)
from sap_odata.auth import BasicAuth, OAuthClientCredentials
from sap_odata.batch import ChangeSet, Operation
from sap_odata.errors import (
    AuthenticationFailed,
    PreconditionRequired,
    SapBusinessError,
    StaleETag,
)
from sap_odata.values import delta_filter

QUANTITIES = ("TotalQuantity", "MfgOrderConfirmedYieldQty", "ConfirmationYieldQuantity")


def confirmation(order="1000000", operation="0010", quantity="5", external=None):
    body = {
        "OrderID": order,
        "OrderOperation": operation,
        "ConfirmationYieldQuantity": quantity,
        "ConfirmationUnit": "PC",
    }
    if external:
        body["ExternalSystemConfirmation"] = external
    return body


# reads and paging


def test_paging_over_ten_thousand_orders_follows_next_links():
    emulator = start_emulator(orders=10_000, page_size=1000, user=USER, password=PASSWORD)
    try:
        orders = client(emulator, ORDERS)
        started = time.perf_counter()
        pages = list(orders.iter_pages("A_ProductionOrder_2", select="ManufacturingOrder,Material"))
        elapsed = time.perf_counter() - started
        numbers = [entity["ManufacturingOrder"] for page in pages for entity in page]
        assert [len(page) for page in pages] == [1000] * 10
        assert len(set(numbers)) == 10_000
        assert numbers[0] == "1000000" and numbers[-1] == "1009999"
        assert set(pages[0][0].values) == {"ManufacturingOrder", "Material"}
        counted = orders.get_json("A_ProductionOrder_2", {"$top": "1", "$inlinecount": "allpages"})
        assert counted["d"]["__count"] == "10000"
        print(f"10,000 orders in 10 pages: {elapsed:.2f} s")
    finally:
        emulator.stop()


def test_next_link_keeps_filter_and_sap_client_and_top_limits_the_pages(emulator, client_for):
    orders = client_for(ORDERS)
    released = orders.get_json(
        "A_ProductionOrder_2", {"$filter": "OrderIsReleased eq true", "$top": "40"}
    )["d"]
    assert len(released["results"]) == 25
    assert "sap-client=100" in released["__next"] and "$skiptoken=25" in released["__next"]
    assert "OrderIsReleased%20eq%20true" in released["__next"]
    everything = list(
        orders.iter_entities("A_ProductionOrder_2", filter="OrderIsReleased eq true", top=40)
    )
    assert len(everything) == 40 and all(entity["OrderIsReleased"] for entity in everything)
    assert len(list(orders.iter_entities("A_ProductionOrder_2", skip=50))) == 10


def test_delta_filter_on_last_change_date_time_finds_only_changed_orders(emulator, client_for):
    orders = client_for(ORDERS)
    since = datetime.now(UTC) - timedelta(seconds=1)
    assert (
        list(
            orders.iter_entities(
                "A_ProductionOrder_2", filter=delta_filter(since, as_timestamp_string=True)
            )
        )
        == []
    )
    emulator.change_order("1000007", ProductionSupervisor="002")
    emulator.change_order("1000042", ProductionSupervisor="003")
    changed = list(
        orders.iter_entities(
            "A_ProductionOrder_2",
            filter=delta_filter(since, as_timestamp_string=True) + " and ProductionPlant eq '1010'",
        )
    )
    assert [entity["ManufacturingOrder"] for entity in changed] == ["1000007", "1000042"]


def test_filter_operators_order_and_count(emulator, client_for):
    orders, products = client_for(ORDERS), client_for(PRODUCTS)
    caliper = "Material eq 'FG-BRK100' or Material eq 'FG-BRK200'"
    both = list(
        orders.iter_entities(
            "A_ProductionOrder_2", filter=caliper, orderby="TotalQuantity desc,ManufacturingOrder"
        )
    )
    quantities = [entity["TotalQuantity"] for entity in both]
    assert both and {entity["Material"] for entity in both} <= {"FG-BRK100", "FG-BRK200"}
    assert [Decimal(q) for q in quantities] == sorted(
        (Decimal(q) for q in quantities), reverse=True
    )
    counted = orders.session.get(
        orders.url("A_ProductionOrder_2/$count", {"$filter": caliper}, json_format=False),
        auth=(USER, PASSWORD),
        timeout=5,
    )
    assert counted.text == str(len(both))
    not_released = list(
        orders.iter_entities("A_ProductionOrder_2", filter="not OrderIsReleased eq true")
    )
    assert len(not_released) == 6  # every tenth of 60
    pins = list(
        products.iter_entities(
            "A_Product", filter="substringof('PLT',Product) and BaseUnit eq 'KG'"
        )
    )
    assert sorted(entity["Product"] for entity in pins) == ["RM-PLT3MM", "RM-PLT5MM"]
    # A_Product's LastChangeDateTime is an Edm.DateTimeOffset: the client's default delta
    assert (
        len(
            list(
                products.iter_entities(
                    "A_Product", filter=delta_filter(datetime(2000, 1, 1, tzinfo=UTC))
                )
            )
        )
        == 13
    )
    assert list(products.iter_entities("A_Product", filter=delta_filter(datetime.now(UTC)))) == []
    soon = datetime.now(UTC) + timedelta(days=3)
    planned = list(
        orders.iter_entities(
            "A_ProductionOrder_2",
            filter=f"MfgOrderPlannedStartDate le datetime'{soon:%Y-%m-%dT00:00:00}'",
        )
    )
    assert planned and all(entity["MfgOrderPlannedStartDate"] <= soon for entity in planned)
    assert len(planned) < 60


def test_entity_with_expanded_operations_components_and_typed_values(client_for):
    orders = client_for(ORDERS)
    order = orders.read_entity(
        "A_ProductionOrder_2('1000000')",
        expand="to_ProductionOrderOperation,to_ProductionOrderComponent",
        decimal_fields=("TotalQuantity", "RequiredQuantity", "OpPlannedTotalQuantity"),
    )
    assert order.etag.startswith("W/\"'") and order.uri.endswith("A_ProductionOrder_2('1000000')")
    assert order.type == "API_PRODUCTION_ORDER_2_SRV.A_ProductionOrder_2Type"
    assert isinstance(order["TotalQuantity"], Decimal) and order["ProductionPlant"] == "1010"
    assert order["MfgOrderPlannedStartDate"].tzinfo is not None
    assert len(order["LastChangeDateTime"]) == 14
    operations = order["to_ProductionOrderOperation"]
    assert [op["ManufacturingOrderOperation"] for op in operations][:2] == ["0010", "0020"]
    components = order["to_ProductionOrderComponent"]
    assert components and all(c["GoodsMovementType"] == "261" for c in components)
    first = components[0]
    assert first["RequiredQuantity"] > 0 and first["StorageLocation"] == "0001"
    raw = orders.get_json("A_ProductionOrder_2('1000000')")["d"]
    assert raw["TotalQuantity"].endswith(".000")  # a decimal string, never a JSON number
    assert raw["MfgOrderPlannedStartDate"].startswith("/Date(")
    assert raw["to_ProductionOrderOperation"]["__deferred"]["uri"].endswith(
        "A_ProductionOrder_2('1000000')/to_ProductionOrderOperation"
    )


def test_master_data_and_stock_services(client_for):
    products = client_for(PRODUCTS)
    product = products.read_entity("A_Product('FG-BRK100')", expand="to_Description,to_Plant")
    assert product["BaseUnit"] == "PC" and product["to_Plant"][0]["Plant"] == "1010"
    assert product["to_Description"][0]["ProductDescription"] == "Brake caliper assembly 100"
    boms = client_for(BOMS)
    (bom,) = list(
        boms.iter_entities(
            "MaterialBOM",
            filter="Material eq 'FG-BRK100' and Plant eq '1010'",
            expand="to_BillOfMaterialItem",
        )
    )
    components = {item["BillOfMaterialComponent"] for item in bom["to_BillOfMaterialItem"]}
    assert "RM-PLT3MM" in components
    stock = client_for(STOCK)
    rows = list(
        stock.iter_entities(
            "A_MatlStkInAcctMod",
            filter="Material eq 'RM-PLT3MM' and Plant eq '1010' and InventoryStockType eq '01'",
            decimal_fields=("MatlWrhsStkQtyInMatlBaseUnit",),
        )
    )
    assert len(rows) == 1 and rows[0]["MatlWrhsStkQtyInMatlBaseUnit"] > 0
    assert rows[0]["StorageLocation"] == "0001"


def test_metadata_of_every_service_reads_with_pyodata(client_for):
    for service, entity_set, key in (
        (ORDERS, "A_ProductionOrder_2", ["ManufacturingOrder"]),
        (CONFIRMATIONS, "ProdnOrdConf2", ["ConfirmationGroup", "ConfirmationCount"]),
        (DOCUMENTS, "A_MaterialDocumentHeader", ["MaterialDocumentYear", "MaterialDocument"]),
        (PRODUCTS, "A_Product", ["Product"]),
        (BOMS, "MaterialBOMItem", None),
        (STOCK, "A_MatlStkInAcctMod", None),
    ):
        schema = client_for(service).metadata()
        entity_type = schema.entity_set(entity_set).entity_type
        if key:
            assert [prop.name for prop in entity_type.key_proprties] == key
    schema = client_for(ORDERS).metadata()
    assert schema.function_import("ReleaseOrder").http_method == "POST"
    assert client_for(CONFIRMATIONS).metadata().function_import("CancelProdnOrdConf")


def test_bad_queries_answer_400_in_sap_envelope(client_for):
    orders = client_for(ORDERS)
    with pytest.raises(SapBusinessError) as raised:
        orders.get_json("A_ProductionOrder_2", {"$filter": "NoSuchField eq 'x'"})
    assert raised.value.status == 400 and "NoSuchField" in str(raised.value)
    with pytest.raises(SapBusinessError) as raised:
        orders.get_json("A_ProductionOrder_2('9999999')")
    assert raised.value.status == 404


# authentication and client


def test_wrong_password_and_wrong_sap_client_are_refused(emulator, client_for):
    with pytest.raises(AuthenticationFailed):
        client_for(ORDERS, auth=BasicAuth(USER, "wrong")).get_json(
            "A_ProductionOrder_2", {"$top": "1"}
        )
    with pytest.raises(AuthenticationFailed) as raised:
        client_for(ORDERS, sap_client="200").get_json("A_ProductionOrder_2", {"$top": "1"})
    assert "Client 200" in str(raised.value)


def test_oauth_client_credentials_token_expires_and_is_fetched_again():
    emulator = start_emulator(orders=5, oauth_client_id="mfg-odoo", oauth_secret="oauth-secret")
    try:
        auth = OAuthClientCredentials(
            emulator.url + "/sap/bc/sec/oauth2/token", "mfg-odoo", "oauth-secret", expiry_margin_s=0
        )
        orders = client(emulator, ORDERS, auth=auth)
        assert orders.get_json("A_ProductionOrder_2", {"$top": "1"})["d"]["results"]
        emulator.expire_oauth_tokens()  # SAP revoked or timed out the token
        assert orders.get_json("A_ProductionOrder_2", {"$top": "1"})["d"]["results"]
        assert emulator.state()["requests"]["oauth_tokens_issued"] == 2
        bad = OAuthClientCredentials(emulator.url + "/oauth/token", "mfg-odoo", "nope")
        with pytest.raises(AuthenticationFailed):
            client(emulator, ORDERS, auth=bad).get_json("A_ProductionOrder_2")
    finally:
        emulator.stop()


# CSRF


def test_a_write_without_token_and_session_cookie_is_refused_with_required(emulator):
    url = emulator.service_url(CONFIRMATIONS) + "ProdnOrdConf2?sap-client=100"
    answer = requests.post(url, json=confirmation(), auth=(USER, PASSWORD), timeout=5)
    assert answer.status_code == 403 and answer.headers["X-CSRF-Token"] == "Required"
    fetched = requests.get(
        emulator.service_url(CONFIRMATIONS),
        headers={"X-CSRF-Token": "Fetch"},
        auth=(USER, PASSWORD),
        timeout=5,
    )
    token = fetched.headers["X-CSRF-Token"]
    assert "SAP_SESSIONID_EMU_100" in fetched.cookies
    # the right token without its session cookie is still refused
    answer = requests.post(
        url, json=confirmation(), auth=(USER, PASSWORD), headers={"X-CSRF-Token": token}, timeout=5
    )
    assert answer.status_code == 403
    answer = requests.post(
        url,
        json=confirmation(),
        auth=(USER, PASSWORD),
        headers={"X-CSRF-Token": token},
        cookies=fetched.cookies,
        timeout=5,
    )
    assert answer.status_code == 201
    assert emulator.state()["active_confirmations"] == 1


def test_csrf_expiry_every_n_writes_is_cured_by_one_refetch(emulator, client_for):
    confirmations = client_for(CONFIRMATIONS)
    emulator.set_faults(csrf_expire_every=3)
    for number in range(7):
        confirmations.create("ProdnOrdConf2", confirmation(quantity="1", external=f"csrf-{number}"))
    state = emulator.state()
    assert state["active_confirmations"] == 7
    assert state["requests"]["csrf_tokens_issued"] == 3  # the first and after writes 3 and 6
    assert state["faults_injected"]["csrf_expiry"] == 2


def test_csrf_expired_now_then_refetched(emulator, client_for):
    confirmations = client_for(CONFIRMATIONS)
    confirmations.create("ProdnOrdConf2", confirmation(external="before"))
    emulator.set_faults(csrf_expire_now=True)
    confirmations.create("ProdnOrdConf2", confirmation(external="after"))
    assert emulator.state()["requests"]["csrf_refused"] == 1
    assert emulator.state()["active_confirmations"] == 2


# ETags


def test_update_needs_if_match_and_a_stale_etag_gets_412_then_reread_applies(emulator, client_for):
    orders = client_for(ORDERS)
    path = "A_ProductionOrder_2('1000003')"
    with pytest.raises(PreconditionRequired) as raised:
        orders.update(path, {"TotalQuantity": "42"}, etag=None)
    assert raised.value.status == 428
    order = orders.read_entity(path)
    emulator.set_faults(stale_etag_count=1)  # someone changes the order in SAP meanwhile
    with pytest.raises(StaleETag):
        orders.update(path, {"TotalQuantity": "42"}, etag=order.etag)
    assert orders.read_entity(path, decimal_fields=QUANTITIES)["TotalQuantity"] != Decimal("42")
    again = orders.read_entity(path)
    assert again.etag != order.etag
    new_etag = orders.update(path, {"TotalQuantity": "42"}, etag=again.etag)
    assert new_etag and new_etag != again.etag
    assert orders.read_entity(path, decimal_fields=QUANTITIES)["TotalQuantity"] == Decimal("42")
    with pytest.raises(StaleETag):  # the old ETag stays stale
        orders.update(path, {"TotalQuantity": "43"}, etag=again.etag)


def test_release_order_needs_the_current_etag(emulator, client_for):
    orders = client_for(ORDERS)
    path = "A_ProductionOrder_2('1000009')"  # every tenth order is not released yet
    order = orders.read_entity(path)
    assert order["OrderIsReleased"] is False
    with pytest.raises(PreconditionRequired):
        orders.call_function("ReleaseOrder", {"ManufacturingOrder": "1000009"})
    released = orders.call_function(
        "ReleaseOrder", {"ManufacturingOrder": "1000009"}, etag=order.etag
    )
    assert released["OrderIsReleased"] is True and released.etag != order.etag
    with pytest.raises(StaleETag):
        orders.call_function("ReleaseOrder", {"ManufacturingOrder": "1000009"}, etag=order.etag)


def test_an_update_of_a_field_sap_does_not_allow_is_a_business_error(client_for):
    orders = client_for(ORDERS)
    order = orders.read_entity("A_ProductionOrder_2('1000001')")
    with pytest.raises(SapBusinessError) as raised:
        orders.update("A_ProductionOrder_2('1000001')", {"Material": "FG-BRK200"}, etag=order.etag)
    assert raised.value.status == 400 and raised.value.sap.details[0].target == "Material"


# $batch


def test_batch_changeset_is_atomic_and_the_others_apply(emulator, client_for):
    confirmations = client_for(CONFIRMATIONS)
    good = ChangeSet(
        tuple(
            Operation("POST", "ProdnOrdConf2", confirmation(quantity="1", external=f"ok-{n}"))
            for n in range(3)
        )
    )
    bad = ChangeSet(
        (
            Operation("POST", "ProdnOrdConf2", confirmation(quantity="1", external="rolled-back")),
            Operation("POST", "ProdnOrdConf2", confirmation(operation="0990", external="bad-op")),
        )
    )
    read = Operation("GET", "ProdnOrdConf2?$filter=ExternalSystemConfirmation%20eq%20'ok-1'")
    results = confirmations.batch([good, bad, read])
    assert results[0].ok and [part.status for part in results[0].parts] == [201, 201, 201]
    assert [part.json()["d"]["ConfirmationCount"] for part in results[0].parts] == ["1", "2", "3"]
    assert not results[1].ok and results[1].error.status == 400
    assert "0990" in results[1].error.sap.message
    assert results[2].status == 200
    # the read ran after the first changeset, in the same batch
    assert len(results[2].json()["d"]["results"]) == 1
    state = emulator.state()
    assert state["active_confirmations"] == 3 and state["requests"]["changesets_rolled_back"] == 1
    assert emulator.confirmations(ExternalSystemConfirmation="rolled-back") == []


# state kept across a restart, reset, and the process


def test_state_survives_a_restart_and_reset_returns_to_the_seed(tmp_path):
    state = tmp_path / "sap.sqlite"
    first = start_emulator(orders=20, state=state)
    client(first, CONFIRMATIONS, auth=None).create("ProdnOrdConf2", confirmation(external="kept"))
    first.stop()
    second = start_emulator(orders=20, state=state)
    try:
        assert len(second.confirmations(ExternalSystemConfirmation="kept")) == 1
        assert second.state()["orders"] == 20
        second.reset()
        assert second.state()["confirmations"] == 0 and second.state()["orders"] == 20
    finally:
        second.stop()


def test_the_seed_gives_the_same_data(client_for, emulator):
    other = start_emulator(seed=42, orders=60)
    try:
        ours = emulator.store.rows("A_ProductionOrder_2")
        theirs = other.store.rows("A_ProductionOrder_2")
        fields = ("ManufacturingOrder", "Material", "TotalQuantity", "OrderIsReleased")
        assert [[row[f] for f in fields] for row in ours] == [
            [row[f] for f in fields] for row in theirs
        ]
    finally:
        other.stop()


def test_command_line_process_serves_and_stops_on_sigterm(tmp_path):
    password = tmp_path / "password"
    password.write_text("cli-secret\n")
    port = 8215
    command = [sys.executable, "-m", "sap_emulator", "--port", str(port), "--orders", "30"]
    command += ["--state", str(tmp_path / "s.sqlite"), "--latency-ms", "5"]
    command += ["--user", USER, "--password-file", str(password)]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/sap/opu/odata/sap/{ORDERS}/A_ProductionOrder_2"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = requests.get(
                    url,
                    params={"$format": "json", "sap-client": "100"},
                    auth=(USER, "cli-secret"),
                    timeout=2,
                )
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
                time.sleep(0.1)
        assert answer.status_code == 200 and len(answer.json()["d"]["results"]) == 30
        faults = requests.post(
            f"http://127.0.0.1:{port}/__emulator__/faults", json={"burst_count": 1}, timeout=2
        )
        assert faults.json()["burst_count"] == 1
        assert requests.get(url, auth=(USER, "cli-secret"), timeout=2).status_code == 503
        wrong = requests.post(
            f"http://127.0.0.1:{port}/__emulator__/faults", json={"rate_503": 2}, timeout=2
        )
        assert wrong.status_code == 400
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopping the SAP emulator" in output
