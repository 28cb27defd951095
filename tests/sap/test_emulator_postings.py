"""What the SAP emulator's postings change: confirmations on the order and its operation, their
cancellation, goods receipts and issues on stock, and the refusals SAP gives."""

from decimal import Decimal

import pytest
from sap_harness import CONFIRMATIONS, DOCUMENTS, ORDERS, STOCK, client, start_emulator
from sap_odata.batch import ChangeSet, Operation
from sap_odata.errors import SapBusinessError

QUANTITIES = (
    "ConfirmationYieldQuantity",
    "ConfirmationScrapQuantity",
    "OpTotalConfirmedYieldQty",
    "MfgOrderConfirmedYieldQty",
    "MatlWrhsStkQtyInMatlBaseUnit",
    "QuantityInEntryUnit",
    "WithdrawnQuantity",
)


def stock(client_for, material, location, batch="", stock_type="01"):
    rows = list(
        client_for(STOCK).iter_entities(
            "A_MatlStkInAcctMod",
            filter=f"Material eq '{material}' and Plant eq '1010' and StorageLocation eq"
            f" '{location}' and Batch eq '{batch}' and InventoryStockType eq '{stock_type}'",
            decimal_fields=QUANTITIES,
        )
    )
    return rows[0]["MatlWrhsStkQtyInMatlBaseUnit"] if rows else Decimal(0)


def movement(code, movement_type, material, quantity, order="1000000", location="0001", **extra):
    return {
        "GoodsMovementCode": code,
        "PostingDate": "/Date(1795000000000)/",
        "MaterialDocumentHeaderText": "mfg event 42",
        "to_MaterialDocumentItem": {
            "results": [
                {
                    "Material": material,
                    "Plant": "1010",
                    "StorageLocation": location,
                    "GoodsMovementType": movement_type,
                    "ManufacturingOrder": order,
                    "QuantityInEntryUnit": quantity,
                    **extra,
                }
            ]
        },
    }


def test_confirmations_count_up_per_operation_and_book_on_the_order(client_for):
    confirmations, orders = client_for(CONFIRMATIONS), client_for(ORDERS)
    order = orders.read_entity(
        "A_ProductionOrder_2('1000000')", expand="to_ProductionOrderOperation"
    )
    operations = order["to_ProductionOrderOperation"]
    last = operations[-1]["ManufacturingOrderOperation"]
    first = confirmations.create(
        "ProdnOrdConf2",
        {"OrderID": "1000000", "OrderOperation": last, "ConfirmationYieldQuantity": "10",
         "ConfirmationScrapQuantity": "1", "ExternalSystemConfirmation": "c-1"},
        decimal_fields=QUANTITIES,
    )  # fmt: skip
    second = confirmations.create(
        "ProdnOrdConf2",
        {"OrderID": "1000000", "OrderOperation": last, "ConfirmationYieldQuantity": "5",
         "FinalConfirmationType": "X", "ExternalSystemConfirmation": "c-2"},
        decimal_fields=QUANTITIES,
    )  # fmt: skip
    assert (
        first["ConfirmationGroup"]
        == second["ConfirmationGroup"]
        == operations[-1]["OperationConfirmation"]
    )
    assert (first["ConfirmationCount"], second["ConfirmationCount"]) == ("1", "2")
    assert first["ConfirmationUnit"] == order["ProductionUnit"] and first["Plant"] == "1010"
    assert second["IsFinalConfirmation"] is True
    after = orders.read_entity(
        "A_ProductionOrder_2('1000000')",
        expand="to_ProductionOrderOperation",
        decimal_fields=QUANTITIES,
    )
    assert after["MfgOrderConfirmedYieldQty"] == Decimal(15)
    assert after["to_ProductionOrderOperation"][-1]["OperationIsConfirmed"] is True
    assert after.etag != order.etag  # the order's status changed in SAP
    read = confirmations.read_entity(
        f"ProdnOrdConf2(ConfirmationGroup='{first['ConfirmationGroup']}',ConfirmationCount='1')",
        decimal_fields=QUANTITIES,
    )
    assert (
        read["ConfirmationYieldQuantity"] == Decimal(10)
        and read["ExternalSystemConfirmation"] == "c-1"
    )


def test_cancel_function_reverses_a_confirmation_once(emulator, client_for):
    confirmations, orders = client_for(CONFIRMATIONS), client_for(ORDERS)
    posted = confirmations.create(
        "ProdnOrdConf2",
        {"OrderID": "1000002", "OrderOperation": "0010", "ConfirmationYieldQuantity": "8",
         "ExternalSystemConfirmation": "wrong-one"},
    )  # fmt: skip
    group, count = posted["ConfirmationGroup"], posted["ConfirmationCount"]
    reversal = confirmations.call_function(
        "CancelProdnOrdConf", {"ConfirmationGroup": group, "ConfirmationCount": count}
    )
    assert reversal["IsReversal"] is True and reversal["CancldProdnOrdConfCount"] == count
    original = confirmations.read_entity(
        f"ProdnOrdConf2(ConfirmationGroup='{group}',ConfirmationCount='{count}')"
    )
    assert original["IsReversed"] is True
    operation = orders.read_entity(
        "A_ProductionOrder_2('1000002')",
        expand="to_ProductionOrderOperation",
        decimal_fields=QUANTITIES,
    )["to_ProductionOrderOperation"][0]
    assert operation["OpTotalConfirmedYieldQty"] == 0
    with pytest.raises(SapBusinessError) as raised:
        confirmations.call_function(
            "CancelProdnOrdConf", {"ConfirmationGroup": group, "ConfirmationCount": count}
        )
    assert "already cancelled" in raised.value.sap.message
    # the external key is free again once its confirmation is cancelled: the right one posts
    right = confirmations.create(
        "ProdnOrdConf2",
        {"OrderID": "1000002", "OrderOperation": "0010", "ConfirmationYieldQuantity": "6",
         "ExternalSystemConfirmation": "wrong-one"},
    )  # fmt: skip
    assert right["ConfirmationCount"] == "3"
    assert emulator.state()["cancelled_confirmations"] == 1


def test_confirmation_refusals(client_for):
    confirmations = client_for(CONFIRMATIONS)
    cases = [
        ({"OrderID": "9999999", "OrderOperation": "0010"}, "does not exist"),
        ({"OrderID": "1000009", "OrderOperation": "0010"}, "not released"),
        ({"OrderID": "1000000", "OrderOperation": "0990"}, "Operation 0990"),
        ({"OrderID": "1000000", "OrderOperation": "0010", "ConfirmationUnit": "KG"}, "Unit KG"),
        ({"OrderID": "1000000", "OrderOperation": "0010", "Yield": "1"}, "'Yield' is invalid"),
        (
            {"OrderID": "1000000", "OrderOperation": "0010", "ConfirmationYieldQuantity": 1.5},
            "string",
        ),
    ]
    for body, words in cases:
        with pytest.raises(SapBusinessError) as raised:
            confirmations.create("ProdnOrdConf2", body)
        assert raised.value.status == 400 and words in raised.value.sap.message, body


def test_duplicate_external_key_can_answer_with_the_existing_confirmation():
    emulator = start_emulator(orders=5, duplicate_confirmation="return")
    try:
        confirmations = client(emulator, CONFIRMATIONS, auth=None)
        body = {"OrderID": "1000000", "OrderOperation": "0010", "ConfirmationYieldQuantity": "3",
                "ExternalSystemConfirmation": "once"}  # fmt: skip
        first = confirmations.create("ProdnOrdConf2", body)
        again = confirmations.create("ProdnOrdConf2", body)
        assert (again["ConfirmationGroup"], again["ConfirmationCount"]) == (
            first["ConfirmationGroup"],
            first["ConfirmationCount"],
        )
        assert emulator.state()["active_confirmations"] == 1
    finally:
        emulator.stop()


def test_goods_issue_and_receipt_change_stock_and_the_order(client_for):
    documents, orders = client_for(DOCUMENTS), client_for(ORDERS)
    order = orders.read_entity("A_ProductionOrder_2('1000000')")
    material, batch = order["Material"], order["Batch"]
    plate_before = stock(client_for, "RM-BLT-M8", "0001")
    issued = documents.create(
        "A_MaterialDocumentHeader",
        movement("03", "261", "RM-BLT-M8", "12"),
        decimal_fields=QUANTITIES,
    )
    assert issued["MaterialDocument"] == "4900000000" and issued["MaterialDocumentYear"] == "2026"
    assert issued["to_MaterialDocumentItem"][0]["GoodsMovementType"] == "261"
    assert stock(client_for, "RM-BLT-M8", "0001") == plate_before - 12
    components = orders.read_entity(
        "A_ProductionOrder_2('1000000')",
        expand="to_ProductionOrderComponent",
        decimal_fields=QUANTITIES,
    )["to_ProductionOrderComponent"]
    bolts = [c for c in components if c["Material"] == "RM-BLT-M8"]
    assert not bolts or bolts[0]["WithdrawnQuantity"] == 12
    finished_before = stock(client_for, material, "0002", batch)
    received = documents.create(
        "A_MaterialDocumentHeader", movement("02", "101", material, "7", location="0002")
    )
    assert received["to_MaterialDocumentItem"][0]["Batch"] == batch  # the order's batch
    assert stock(client_for, material, "0002", batch) == finished_before + 7
    found = list(
        documents.iter_entities(
            "A_MaterialDocumentHeader", filter="MaterialDocumentHeaderText eq 'mfg event 42'"
        )
    )
    assert len(found) == 2


def test_goods_movement_refusals_leave_stock_unchanged(emulator, client_for):
    documents = client_for(DOCUMENTS)
    before = stock(client_for, "RM-SEAL-40", "0001")
    cases = [
        (movement("03", "261", "RM-SEAL-40", str(before + 1)), "M7/021", "Deficit"),
        (movement("03", "261", "RM-NOPE", "1"), "M3/305", "does not exist"),
        (movement("03", "101", "RM-SEAL-40", "1"), "M7/089", "not allowed"),
        (movement("05", "261", "RM-SEAL-40", "1"), "M7/089", "not supported"),
        (movement("03", "261", "RM-SEAL-40", "1", location="9999"), "M7/018", "Storage location"),
        (movement("03", "261", "RM-SEAL-40", "1", order="1000009"), "CO/180", "not released"),
        (movement("03", "261", "RM-SEAL-40", "1", EntryUnit="KG"), "M7/079", "base unit"),
    ]
    for body, code, words in cases:
        with pytest.raises(SapBusinessError) as raised:
            documents.create("A_MaterialDocumentHeader", body)
        assert raised.value.code == code and words in raised.value.sap.message, body
    assert stock(client_for, "RM-SEAL-40", "0001") == before
    assert emulator.state()["material_documents"] == 0


def test_goods_movements_in_a_batch_changeset_roll_back_together(emulator, client_for):
    documents = client_for(DOCUMENTS)
    before = stock(client_for, "RM-NUT-M8", "0001")
    changeset = ChangeSet(
        (
            Operation("POST", "A_MaterialDocumentHeader", movement("03", "261", "RM-NUT-M8", "3")),
            Operation("POST", "A_MaterialDocumentHeader", movement("03", "261", "RM-NOPE", "1")),
        )
    )
    (result,) = documents.batch([changeset])
    assert not result.ok and result.error.code == "M3/305"
    assert stock(client_for, "RM-NUT-M8", "0001") == before
    assert emulator.state()["material_documents"] == 0
