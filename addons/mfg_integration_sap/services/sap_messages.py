"""What Odoo sends SAP and how a retry recognises it: idempotency keys and OData bodies.

Plain Python (no ORM): the adapter, the flows and the tests share these rules.

* A confirmation's ``ExternalSystemConfirmation`` (32 characters) is a GUID derived from the
  outbound event's CloudEvents id (uuid5, as 32 upper-case hex digits), so every retry and
  replay of the event carries the same one and a lookup by it tells whether SAP already
  holds the confirmation.
* A goods movement has no GUID field; ``MaterialDocumentHeaderText`` (25 characters, kept
  on the material document and filterable) carries ``ODOO-`` and 20 hex digits of the
  event id's SHA-256 (80 bits: no collision among the movements of a plant's lifetime).
"""

import hashlib
import uuid
from datetime import UTC, date, datetime, time

from .odata.values import format_sap_date

CONFIRMATION_SERVICE = "API_PROD_ORDER_CONFIRMATION_2_SRV"
CONFIRMATION_SET = "ProdnOrdConf2"
MATERIAL_DOCUMENT_SERVICE = "API_MATERIAL_DOCUMENT_SRV"
MATERIAL_DOCUMENT_SET = "A_MaterialDocumentHeader"
CONFIRMATION_CONTRACT = "sap.confirmation.posted"
GOODS_MOVEMENT_CONTRACT = "sap.goodsmovement.posted"
# namespace of the confirmation GUIDs (fixed forever: changing it would re-post history)
CONFIRMATION_NAMESPACE = uuid.UUID("5b0f6c52-64f1-4a5e-9a39-2b8d2c6f0e11")
HEADER_TEXT_PREFIX = "ODOO-"
HEADER_TEXT_DIGITS = 20
# movement types and the goods movement code SAP wants for them
RECEIPT_FOR_ORDER = ("02", "101")
ISSUE_FOR_ORDER = ("03", "261")


def confirmation_guid(event_uid):
    """The ``ExternalSystemConfirmation`` of the outbound event ``event_uid``."""
    return uuid.uuid5(CONFIRMATION_NAMESPACE, event_uid).hex.upper()


def movement_reference(event_uid):
    """The ``MaterialDocumentHeaderText`` that identifies the event's material document."""
    digest = hashlib.sha256(event_uid.encode()).hexdigest()[:HEADER_TEXT_DIGITS].upper()
    return f"{HEADER_TEXT_PREFIX}{digest}"


def posting_date(value):
    """``/Date(ms)/`` of a posting date given as ``YYYY-MM-DD`` (midnight UTC, as SAP
    stores Edm.DateTime dates)."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return format_sap_date(datetime.combine(day, time(0), tzinfo=UTC))


def confirmation_body(event_uid, data):
    """The ProdnOrdConf2 entity to create for a ``sap.confirmation.posted`` event's data."""
    body = {
        "OrderID": data["OrderID"],
        "ConfirmationYieldQuantity": data["ConfirmationYieldQuantity"],
        "ConfirmationScrapQuantity": data.get("ConfirmationScrapQuantity", "0"),
        "ConfirmationUnit": data["ConfirmationUnit"],
        "FinalConfirmationType": data.get("FinalConfirmationType", ""),
        "ExternalSystemConfirmation": confirmation_guid(event_uid),
    }
    for name in ("OrderOperation", "Sequence", "ConfirmationText"):
        if data.get(name):
            body[name] = data[name]
    if data.get("PostingDate"):
        body["PostingDate"] = posting_date(data["PostingDate"])
    return body


def goods_movement_body(event_uid, data):
    """The A_MaterialDocumentHeader deep insert for a ``sap.goodsmovement.posted`` event."""
    items = []
    for item in data["items"]:
        line = {
            key: item[key]
            for key in (
                "Material",
                "Plant",
                "StorageLocation",
                "GoodsMovementType",
                "QuantityInEntryUnit",
                "EntryUnit",
                "ManufacturingOrder",
                "Batch",
            )
            if item.get(key)
        }
        if item["GoodsMovementType"] == RECEIPT_FOR_ORDER[1]:
            line["GoodsMovementRefDocType"] = "F"  # F: receipt against a production order
        items.append(line)
    body = {
        "GoodsMovementCode": data["GoodsMovementCode"],
        "MaterialDocumentHeaderText": movement_reference(event_uid),
        "to_MaterialDocumentItem": items,
    }
    if data.get("PostingDate"):
        body["PostingDate"] = body["DocumentDate"] = posting_date(data["PostingDate"])
    return body


def lookup_filter(contract_code, event_uid):
    """(entity set, $filter) that finds what the event created in SAP, if anything."""
    if contract_code == CONFIRMATION_CONTRACT:
        guid = confirmation_guid(event_uid)
        return CONFIRMATION_SET, f"ExternalSystemConfirmation eq '{guid}'"
    reference = movement_reference(event_uid)
    return MATERIAL_DOCUMENT_SET, f"MaterialDocumentHeaderText eq '{reference}'"


def service_of(contract_code):
    """The OData service a contract's events are posted to."""
    if contract_code == CONFIRMATION_CONTRACT:
        return CONFIRMATION_SERVICE
    if contract_code == GOODS_MOVEMENT_CONTRACT:
        return MATERIAL_DOCUMENT_SERVICE
    raise ValueError(f"the SAP adapter does not deliver {contract_code}")


def body_of(contract_code, event_uid, data):
    if contract_code == CONFIRMATION_CONTRACT:
        return CONFIRMATION_SET, confirmation_body(event_uid, data)
    return MATERIAL_DOCUMENT_SET, goods_movement_body(event_uid, data)


def created_key(contract_code, values):
    """Words naming what SAP created: the confirmation's or material document's key."""
    if contract_code == CONFIRMATION_CONTRACT:
        return "confirmation {}/{}".format(
            values.get("ConfirmationGroup", "?"), values.get("ConfirmationCount", "?")
        )
    return "material document {}/{}".format(
        values.get("MaterialDocument", "?"), values.get("MaterialDocumentYear", "?")
    )


def plain_sap_error(error):
    """SAP's refusal in plain words: its sentence, its message code, and its details."""
    sap = error.sap
    sentence = sap.message or str(error)
    extra = [d.message for d in sap.details if d.message and d.message != sentence]
    text = sentence if not extra else f"{sentence} ({'; '.join(extra)})"
    return f"{text} [SAP {sap.code}]" if sap.code else text
