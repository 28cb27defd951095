"""Pulls: SAP's changed orders, materials and BoMs become inbound events of the base inbox.

Invariants: a pull reads SAP's changes since the system's watermark (``ge``: the
watermark's own second is read again, never skipped) page by page along ``__next``, turns
each entity into an envelope whose id is derived from the entity's key and change stamp (a
re-read is a duplicate, changes nothing), ingests each page through the inbox (validation,
idempotency, ordering per subject, the exception queue) and moves the watermark to the
page's newest stamp in the same transaction: what the watermark passed is in the inbox.
"""

import logging
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from ..services.odata.values import format_sap_date

_logger = logging.getLogger(__name__)

# namespace of pulled events' ids (fixed forever: a change would re-ingest history)
PULL_NAMESPACE = uuid.UUID("9d7e3f8a-2c41-4f0e-8b57-6a1f2e9c4d30")
ORDER_SERVICE = "API_PRODUCTION_ORDER_2_SRV"
PRODUCT_SERVICE = "API_PRODUCT_SRV"
BOM_SERVICE = "API_BILL_OF_MATERIAL_SRV;v=0002"
ORDER_FIELDS = (
    "ManufacturingOrder",
    "ManufacturingOrderText",
    "Material",
    "ProductionPlant",
    "TotalQuantity",
    "ProductionUnit",
    "MfgOrderPlannedStartDate",
    "MfgOrderPlannedEndDate",
    "OrderIsReleased",
    "OrderIsTechnicallyCompleted",
    "LastChangeDateTime",
)


def pull_owned_kinds(system, owned_only=True):
    """Pull what ``system`` is the system of record for (or everything): {kind: events}."""
    Kind = system.env["mfg.integration.record.kind"]
    counts = {}
    # materials first: BoMs and orders name them
    for kind, function in (
        ("product", pull_materials),
        ("bom", pull_boms),
        ("manufacturing_order", pull_orders),
    ):
        if owned_only and Kind._owner(kind) != system:
            continue
        counts[kind] = function(system)
    return counts


def pull_orders(system):
    """Production orders changed since the watermark (a 14-character timestamp string)."""
    client = system._sap_settings().client(ORDER_SERVICE)
    since = system.sap_order_watermark
    conditions = []
    if system.sap_plant:
        conditions.append(f"ProductionPlant eq '{system.sap_plant}'")
    if since:
        conditions.append(f"LastChangeDateTime ge '{since}'")
    if system.sap_order_filter:
        conditions.append(f"({system.sap_order_filter})")
    options = {"orderby": "LastChangeDateTime,ManufacturingOrder"}
    if conditions:
        options["filter"] = " and ".join(conditions)
    total = 0
    for page in client.iter_pages(
        "A_ProductionOrder_2",
        expand="to_ProductionOrderOperation",
        decimal_fields=("TotalQuantity",),
        **options,
    ):
        envelopes = _initial_load_now(since, [_order_envelope(system, e.values) for e in page])
        total += _ingest_page(system, envelopes)
        stamps = [entity.values.get("LastChangeDateTime") or "" for entity in page]
        newest = max(stamps, default="")
        if newest and newest > (system.sap_order_watermark or ""):
            system.sap_order_watermark = newest
    return total


def pull_materials(system):
    client = system._sap_settings().client(PRODUCT_SERVICE)
    options = {"orderby": "LastChangeDateTime,Product", "expand": "to_Description,to_Plant"}
    since = system.sap_material_watermark
    if since:
        options["filter"] = f"LastChangeDateTime ge datetimeoffset'{since}'"
    total = 0
    for page in client.iter_pages("A_Product", **options):
        envelopes = _initial_load_now(
            since, [_material_envelope(system, entity.values) for entity in page]
        )
        total += _ingest_page(system, envelopes)
        _advance(system, "sap_material_watermark", page)
    return total


def pull_boms(system):
    client = system._sap_settings().client(BOM_SERVICE)
    options = {
        "orderby": "LastChangeDateTime,BillOfMaterial",
        "expand": "to_BillOfMaterialItem",
        "decimal_fields": ("BOMHeaderQuantityInBaseUnit", "BillOfMaterialItemQuantity"),
    }
    conditions = []
    if system.sap_plant:
        conditions.append(f"Plant eq '{system.sap_plant}'")
    since = system.sap_bom_watermark
    if since:
        conditions.append(f"LastChangeDateTime ge datetimeoffset'{since}'")
    if conditions:
        options["filter"] = " and ".join(conditions)
    total = 0
    for page in client.iter_pages("MaterialBOM", **options):
        envelopes = _initial_load_now(
            since, [_bom_envelope(system, entity.values) for entity in page]
        )
        total += _ingest_page(system, envelopes)
        _advance(system, "sap_bom_watermark", page)
    return total


def _ingest_page(system, envelopes):
    if not envelopes:
        return 0
    Event = system.env["mfg.integration.event"].sudo()
    # the watermark's own second is read again by design, and the initial load stamped its
    # events now (see _initial_load_now): a re-read keeps the stored time, so it is a duplicate
    Event._keep_stored_times(system, envelopes)
    results = Event._ingest(system, envelopes)
    refused = [r for r in results if r["status"] == "rejected"]
    for result in refused[:5]:
        _logger.warning(
            "SAP pull from %s: event %s refused: %s",
            system.code, result.get("id"), result["error"]["message"],
        )  # fmt: skip
    return sum(1 for r in results if r["status"] == "accepted")


def _advance(system, field_name, page):
    stamps = [
        entity.values["LastChangeDateTime"]
        for entity in page
        if isinstance(entity.values.get("LastChangeDateTime"), datetime)
    ]
    if not stamps:
        return
    newest = max(stamps).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if newest > (system[field_name] or ""):
        system[field_name] = newest


def _envelope(system, contract, kind, key, stamp, data, time):
    event_id = str(uuid.uuid5(PULL_NAMESPACE, f"{system.code}/{kind}/{key}/{stamp}"))
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"sap/{system.code}",
        "type": contract,
        "time": time,
        "subject": f"{kind}/{key}" if kind != "order" else key,
        "data": data,
    }


def _order_envelope(system, values):
    data = {}
    for name in ORDER_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        if isinstance(value, Decimal):
            value = _decimal_text(value)
        elif isinstance(value, datetime):
            value = format_sap_date(value)
        data[name] = value
    operations = [
        op.get("ManufacturingOrderOperation")
        for op in values.get("to_ProductionOrderOperation") or []
        if op.get("ManufacturingOrderOperation")
    ]
    if operations:
        # the last operation reports the order's yield (SAP's milestone for the order)
        data["ManufacturingOrderOperation"] = max(operations)
    stamp = values.get("LastChangeDateTime") or ""
    time = _stamp_time(stamp)
    return _envelope(
        system, "sap.productionorder.released", "order", values["ManufacturingOrder"], stamp,
        data, time,
    )  # fmt: skip


def _material_envelope(system, values):
    descriptions = values.get("to_Description") or []
    english = [d for d in descriptions if d.get("Language") == "EN"] or descriptions
    plants = [p for p in values.get("to_Plant") or [] if p.get("Plant") == system.sap_plant]
    stamp = values.get("LastChangeDateTime")
    data = {
        "Product": values["Product"],
        "IsBatchManagementRequired": bool(plants and plants[0].get("IsBatchManagementRequired")),
        "ProductType": values.get("ProductType"),
        "BaseUnit": values.get("BaseUnit") or "",
        "ProductDescription": english[0].get("ProductDescription") if english else None,
        "IsMarkedForDeletion": values.get("IsMarkedForDeletion"),
        "LastChangeDateTime": _iso(stamp),
    }
    return _envelope(
        system, "sap.material.changed", "material", values["Product"], _iso(stamp), data,
        _iso(stamp) or _now_iso(),
    )  # fmt: skip


def _bom_envelope(system, values):
    stamp = values.get("LastChangeDateTime")
    items = [
        {
            "BillOfMaterialItemNumber": item.get("BillOfMaterialItemNumber"),
            "BillOfMaterialComponent": item["BillOfMaterialComponent"],
            "BillOfMaterialItemQuantity": _decimal_text(item["BillOfMaterialItemQuantity"]),
            "BillOfMaterialItemUnit": item.get("BillOfMaterialItemUnit") or "",
        }
        for item in (values.get("to_BillOfMaterialItem") or [])
    ]
    data = {
        "BillOfMaterial": values["BillOfMaterial"],
        "BillOfMaterialVariant": values.get("BillOfMaterialVariant"),
        "Material": values["Material"],
        "Plant": values["Plant"],
        "BOMHeaderQuantityInBaseUnit": _decimal_text(values["BOMHeaderQuantityInBaseUnit"]),
        "BOMHeaderBaseUnit": values.get("BOMHeaderBaseUnit") or "",
        "LastChangeDateTime": _iso(stamp),
        "items": items,
    }
    key = "/".join(
        str(values.get(name) or "")
        for name in ("Material", "Plant", "BillOfMaterial", "BillOfMaterialVariant")
    )
    return _envelope(
        system, "sap.bom.changed", "bom", key, _iso(stamp), data, _iso(stamp) or _now_iso()
    )


def _decimal_text(value):
    text = format(Decimal(str(value)).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _iso(stamp):
    if isinstance(stamp, datetime):
        return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return stamp or None


def _initial_load_now(since, envelopes):
    """The first pull (no watermark yet) loads what SAP holds, however old its last change:
    its events occur now, so the initial load is not counted as weeks of latency and SLA
    breaches. A delta pull keeps SAP's change time."""
    if not since:
        now = _now_iso()
        for envelope in envelopes:
            envelope["time"] = now
    return envelopes


def _stamp_time(stamp):
    """RFC 3339 of SAP's 14-character ``yyyymmddhhmmss`` (UTC), or now."""
    try:
        moment = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return _now_iso()
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_iso():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
