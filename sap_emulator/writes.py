"""The writes SAP applies: production order changes and release, order confirmations and their
cancellation, material documents (goods receipts and issues for orders) that change stock.

Every function runs inside the store's transaction: a SapError undoes what it changed.
Message numbers look like SAP's (``M7/021`` deficit, ``M3/305`` unknown material...) but are the
emulator's choice; the sentences say the same thing SAP says.
"""

from datetime import timedelta
from decimal import Decimal

from . import data as seed_data
from .reads import SapError
from .values import BadValue, date_of_wire, sap_timestamp, to_wire, typed, wire_date, wire_decimal

CONFIRMATION_SERVICE = "API_PROD_ORDER_CONFIRMATION_2_SRV"
ORDER_SERVICE = "API_PRODUCTION_ORDER_2_SRV"
DOCUMENT_SERVICE = "API_MATERIAL_DOCUMENT_SRV"
# goods movement code: movement types it allows, and the stock sign of each
MOVEMENTS = {"02": {"101": 1, "102": -1}, "03": {"261": -1, "262": 1}}
STOCK_TYPES = ("01", "02", "07")  # unrestricted, quality inspection, blocked


def business(status, code, message, service, target=""):
    return SapError(status, code, message, service=service, target=target)


def injected_error(kind, rule, service, *, order="", material="", clock=None):
    """The SAP answer to a business error switched on by a fault rule."""
    if kind == "order_locked":
        order = rule.get("order") or order
        return business(
            400, "CO/473", f"Order {order} is currently being processed by user BATCH_USER", service
        )
    if kind == "period_closed":
        today = clock().date()
        previous = today.replace(day=1) - timedelta(days=1)
        return business(
            400,
            "M7/053",
            f"Posting only possible in periods {today:%Y/%m} and {previous:%Y/%m}"
            f" in company code {seed_data.PLANT}",
            service,
        )
    material = rule.get("material") or material
    return unknown_material(material, service)


def unknown_material(material, service):
    return business(
        400,
        "M3/305",
        f"The material {material} does not exist or is not activated",
        service,
        target="Material",
    )


def checked_fields(entity_set, body, service, *, allowed=None):
    """``body``'s properties in SAP's stored form; unknown or not allowed ones refused."""
    values = {}
    for name, value in body.items():
        if name == "__metadata" or name.startswith("to_"):
            continue
        prop = entity_set.prop(name)
        if prop is None or (allowed is not None and name not in allowed):
            raise business(
                400,
                "/IWBEP/CM_MGW_RT/021",
                f"Property '{name}' is invalid or not changeable",
                service,
                target=name,
            )
        try:
            values[name] = to_wire(prop, value)
        except BadValue as error:
            raise business(
                400, "/IWBEP/CM_MGW_RT/021", f"Invalid value for '{name}': {error}", service, name
            ) from error
    return values


def touched(row, clock):
    """A copy of ``row`` changed now: new change stamp and version (so a new ETag)."""
    changed = dict(row)
    changed["LastChangeDateTime"] = sap_timestamp(clock())
    changed["__version"] = int(row.get("__version", 1)) + 1
    return changed


def check_if_match(entity_set, row, if_match, faults, store, clock, service):
    """428 without ``If-Match``, 412 when it is not the current ETag (a stale-ETag fault first
    changes the entity as another SAP user would)."""
    from .reads import etag_of

    if not if_match:
        raise business(
            428,
            "/IWBEP/CM_MGW_RT/025",
            "Precondition required: send the entity's ETag in If-Match",
            service,
        )
    if faults.take_stale_etag():
        row = store.put_committed(entity_set.name, touched(row, clock))
    if if_match.strip() != "*" and if_match.strip() != etag_of(entity_set, row):
        raise business(
            412,
            "/IWBEP/CM_MGW_RT/022",
            "Precondition failed: the entity was changed meanwhile; read it again",
            service,
        )
    return row


def order_or_error(store, number, service, code="CO/004", target="ManufacturingOrder"):
    order = store.get("A_ProductionOrder_2", (number,))
    if order is None:
        raise business(400, code, f"Order {number} does not exist", service, target)
    return order


def check_order_usable(ctx, order, service, *, faults=True):
    if order["OrderIsLocked"]:
        raise business(
            400,
            "CO/473",
            f"Order {order['ManufacturingOrder']} is currently being processed by user PLANNER01",
            service,
        )
    fault = faults and ctx.faults.business_error(order=order["ManufacturingOrder"])
    if fault:
        raise injected_error(*fault, service, order=order["ManufacturingOrder"], clock=ctx.clock)


def update_order(ctx, entity_set, key, body, if_match):
    order = ctx.store.get(entity_set.name, key)
    if order is None:
        raise business(404, "/IWBEP/CM_MGW_RT/020", f"Order {key[0]} does not exist", ORDER_SERVICE)
    values = checked_fields(entity_set, body, ORDER_SERVICE, allowed=entity_set.updatable)
    order = check_if_match(
        entity_set, order, if_match, ctx.faults, ctx.store, ctx.clock, ORDER_SERVICE
    )
    check_order_usable(ctx, order, ORDER_SERVICE)
    return ctx.store.put(entity_set.name, {**touched(order, ctx.clock), **values})


def release_order(ctx, entity_set, number, if_match):
    order = order_or_error(ctx.store, number, ORDER_SERVICE)
    order = check_if_match(
        entity_set, order, if_match, ctx.faults, ctx.store, ctx.clock, ORDER_SERVICE
    )
    check_order_usable(ctx, order, ORDER_SERVICE)
    if order["OrderIsReleased"]:
        return order  # already released: SAP does nothing and says nothing
    released = touched(order, ctx.clock)
    released["OrderIsReleased"] = True
    released["MfgOrderActualReleaseDate"] = wire_date(ctx.clock())
    return ctx.store.put(entity_set.name, released)


def _decimal(row, name):
    return typed("Edm.Decimal", row.get(name) or "0")


def create_confirmation(ctx, entity_set, body):
    values = checked_fields(entity_set, body, CONFIRMATION_SERVICE)
    for name in ("ConfirmationGroup", "ConfirmationCount", "IsReversed", "IsReversal"):
        values.pop(name, None)
    number = values.get("OrderID") or ""
    if not number:
        raise business(400, "RU/004", "Enter an order", CONFIRMATION_SERVICE, "OrderID")
    order = order_or_error(ctx.store, number, CONFIRMATION_SERVICE, code="RU/004", target="OrderID")
    external = values.get("ExternalSystemConfirmation") or ""
    if external:
        existing = [
            row
            for row in ctx.store.find("ProdnOrdConf2", ExternalSystemConfirmation=external)
            if not row["IsReversal"] and not row["IsReversed"]
        ]
        if existing and ctx.settings.duplicate_confirmation == "reject":
            ctx.count("duplicate_confirmations_refused")
            first = existing[0]
            raise business(
                400,
                "RU/505",
                f"Confirmation {first['ConfirmationGroup']}/{first['ConfirmationCount']} with"
                f" external key {external} already exists",
                CONFIRMATION_SERVICE,
                "ExternalSystemConfirmation",
            )
        if existing:
            ctx.count("duplicate_confirmations_returned")
            return existing[0], False
    if not order["OrderIsReleased"]:
        raise business(400, "RU/141", f"Order {number} is not released", CONFIRMATION_SERVICE)
    check_order_usable(ctx, order, CONFIRMATION_SERVICE)
    operation_number = values.get("OrderOperation") or ""
    operation = next(
        (
            row
            for row in ctx.store.find("A_ProductionOrderOperation_2", ManufacturingOrder=number)
            if row["ManufacturingOrderOperation"] == operation_number
        ),
        None,
    )
    if operation is None:
        raise business(
            400,
            "RU/116",
            f"Operation {operation_number or '(none)'} does not exist in order {number}",
            CONFIRMATION_SERVICE,
            "OrderOperation",
        )
    unit = values.get("ConfirmationUnit") or operation["OperationUnit"]
    if unit != operation["OperationUnit"]:
        raise business(
            400,
            "RU/221",
            f"Unit {unit} cannot be converted to the operation unit {operation['OperationUnit']}",
            CONFIRMATION_SERVICE,
            "ConfirmationUnit",
        )
    yield_qty = _decimal(values, "ConfirmationYieldQuantity")
    scrap_qty = _decimal(values, "ConfirmationScrapQuantity")
    if yield_qty < 0 or scrap_qty < 0:
        raise business(400, "RU/302", "Quantities must not be negative", CONFIRMATION_SERVICE)
    final = values.get("FinalConfirmationType") == "X" or bool(values.get("IsFinalConfirmation"))
    group = operation["OperationConfirmation"]
    count = len(ctx.store.find("ProdnOrdConf2", ConfirmationGroup=group)) + 1
    today = wire_date(ctx.clock())
    confirmation = {
        "ConfirmationGroup": group,
        "ConfirmationCount": str(count),
        "OrderID": number,
        "OrderOperation": operation_number,
        "Sequence": operation["ManufacturingOrderSequence"],
        "OrderType": order["ManufacturingOrderType"],
        "Material": order["Material"],
        "Plant": order["ProductionPlant"],
        "WorkCenter": operation["WorkCenter"],
        "ConfirmationText": values.get("ConfirmationText") or "",
        "ConfirmationUnit": unit,
        "ConfirmationYieldQuantity": wire_decimal(yield_qty),
        "ConfirmationScrapQuantity": wire_decimal(scrap_qty),
        "ConfirmationReworkQuantity": wire_decimal(_decimal(values, "ConfirmationReworkQuantity")),
        "FinalConfirmationType": "X" if final else values.get("FinalConfirmationType") or "",
        "IsFinalConfirmation": final,
        "OpenReservationsIsCleared": bool(values.get("OpenReservationsIsCleared")),
        "PostingDate": values.get("PostingDate") or today,
        "ExternalSystemConfirmation": external,
        "IsReversed": False,
        "IsReversal": False,
        "CancldProdnOrdConfCount": "",
        "EnteredByExternalUser": None,
        "ConfirmationEntryDate": today,
    }
    ctx.store.put("ProdnOrdConf2", confirmation)
    _book_on_operation(ctx, order, operation, yield_qty, scrap_qty, final)
    return confirmation, True


def _book_on_operation(ctx, order, operation, yield_qty, scrap_qty, final):
    changed = dict(operation)
    confirmed = _decimal(operation, "OpTotalConfirmedYieldQty") + yield_qty
    changed["OpTotalConfirmedYieldQty"] = wire_decimal(confirmed)
    changed["OpTotalConfirmedScrapQty"] = wire_decimal(
        _decimal(operation, "OpTotalConfirmedScrapQty") + scrap_qty
    )
    changed["OperationIsConfirmed"] = final
    changed["OperationIsPartiallyConfirmed"] = not final and confirmed > 0
    changed["LastChangeDateTime"] = sap_timestamp(ctx.clock())
    ctx.store.put("A_ProductionOrderOperation_2", changed)
    operations = ctx.store.find(
        "A_ProductionOrderOperation_2", ManufacturingOrder=order["ManufacturingOrder"]
    )
    last = max(operations, key=lambda row: row["ManufacturingOrderOperation"])
    updated = touched(order, ctx.clock)
    updated["MfgOrderConfirmedYieldQty"] = last["OpTotalConfirmedYieldQty"]
    updated["OrderIsPartiallyConfirmed"] = any(
        row["OperationIsPartiallyConfirmed"] or row["OperationIsConfirmed"] for row in operations
    )
    updated["OrderIsConfirmed"] = all(row["OperationIsConfirmed"] for row in operations)
    ctx.store.put("A_ProductionOrder_2", updated)


def cancel_confirmation(ctx, group, count):
    original = ctx.store.get("ProdnOrdConf2", (group, count))
    if original is None:
        raise business(
            400, "RU/110", f"Confirmation {group}/{count} does not exist", CONFIRMATION_SERVICE
        )
    if original["IsReversed"] or original["IsReversal"]:
        raise business(
            400,
            "RU/172",
            f"Confirmation {group}/{count} is already cancelled or is a cancellation",
            CONFIRMATION_SERVICE,
        )
    order = order_or_error(ctx.store, original["OrderID"], CONFIRMATION_SERVICE, code="RU/004")
    check_order_usable(ctx, order, CONFIRMATION_SERVICE)
    ctx.store.put("ProdnOrdConf2", {**original, "IsReversed": True})
    reversal = {
        **original,
        "ConfirmationCount": str(len(ctx.store.find("ProdnOrdConf2", ConfirmationGroup=group)) + 1),
        "IsReversal": True,
        "CancldProdnOrdConfCount": count,
        "ExternalSystemConfirmation": "",
        "PostingDate": wire_date(ctx.clock()),
        "ConfirmationEntryDate": wire_date(ctx.clock()),
    }
    ctx.store.put("ProdnOrdConf2", reversal)
    operation = next(
        row
        for row in ctx.store.find(
            "A_ProductionOrderOperation_2", ManufacturingOrder=order["ManufacturingOrder"]
        )
        if row["ManufacturingOrderOperation"] == original["OrderOperation"]
    )
    _book_on_operation(
        ctx,
        order,
        operation,
        -_decimal(original, "ConfirmationYieldQuantity"),
        -_decimal(original, "ConfirmationScrapQuantity"),
        False,
    )
    return reversal


def create_material_document(ctx, header_set, item_set, body):
    service = DOCUMENT_SERVICE
    header = checked_fields(header_set, body, service)
    raw_items = body.get("to_MaterialDocumentItem") or []
    if isinstance(raw_items, dict):
        raw_items = raw_items.get("results") or []
    if not raw_items:
        raise business(400, "M7/010", "Enter at least one item", service, "to_MaterialDocumentItem")
    code = header.get("GoodsMovementCode") or ""
    if code not in MOVEMENTS:
        raise business(
            400,
            "M7/089",
            f"Goods movement code {code or '(none)'} is not supported here (02: receipt for order,"
            " 03: goods issue)",
            service,
            "GoodsMovementCode",
        )
    items = [checked_fields(item_set, item, service) for item in raw_items]
    orders = [item.get("ManufacturingOrder") for item in items if item.get("ManufacturingOrder")]
    materials = {item.get("Material") or "" for item in items}
    fault = ctx.faults.business_error(order=orders[0] if orders else None, materials=materials)
    if fault:
        raise injected_error(*fault, service, material=sorted(materials)[0], clock=ctx.clock)
    posting = header.get("PostingDate") or wire_date(ctx.clock())
    year = f"{date_of_wire(posting).year}"
    number = str(ctx.store.next_number("material_document", seed_data.FIRST_MATERIAL_DOCUMENT))
    stored_header = {
        "MaterialDocumentYear": year,
        "MaterialDocument": number,
        "InventoryTransactionType": "WE" if code == "02" else "WA",
        "DocumentDate": header.get("DocumentDate") or posting,
        "PostingDate": posting,
        "CreationDate": wire_date(ctx.clock()),
        "GoodsMovementCode": code,
        "ReferenceDocument": header.get("ReferenceDocument") or "",
        "MaterialDocumentHeaderText": header.get("MaterialDocumentHeaderText") or "",
        "CreatedByUser": ctx.settings.user or "CC0000000001",
    }
    ctx.store.put(header_set.name, stored_header)
    stored_items = []
    for position, item in enumerate(items, start=1):
        stored = _post_item(ctx, code, item, service)
        stored.update(MaterialDocumentYear=year, MaterialDocument=number)
        stored["MaterialDocumentItem"] = str(position)
        stored_items.append(ctx.store.put(item_set.name, stored))
    return stored_header, stored_items


def _post_item(ctx, code, item, service):
    material = item.get("Material") or ""
    movement = item.get("GoodsMovementType") or ""
    if movement not in MOVEMENTS[code]:
        raise business(
            400,
            "M7/089",
            f"Movement type {movement or '(none)'} is not allowed with goods movement code {code}",
            service,
            "GoodsMovementType",
        )
    product = ctx.store.get("A_Product", (material,))
    if product is None:
        raise unknown_material(material, service)
    plant = item.get("Plant") or ""
    if ctx.store.get("A_ProductPlant", (material, plant)) is None:
        raise business(
            400, "M7/001", f"Material {material} not maintained in plant {plant}", service, "Plant"
        )
    location = item.get("StorageLocation") or ""
    if location not in (seed_data.RAW_LOCATION, seed_data.FINISHED_LOCATION):
        raise business(
            400,
            "M7/018",
            f"Storage location {plant} {location or '(none)'} does not exist",
            service,
            "StorageLocation",
        )
    order_number = item.get("ManufacturingOrder") or ""
    order = order_or_error(ctx.store, order_number, service, code="M7/155")
    if not order["OrderIsReleased"]:
        raise business(400, "CO/180", f"Order {order_number} is not released", service)
    check_order_usable(ctx, order, service, faults=False)  # drawn once for the document
    batch = item.get("Batch") or ""
    batch_managed = ctx.store.get("A_ProductPlant", (material, plant))["IsBatchManagementRequired"]
    if batch_managed and not batch and movement in ("101", "102") and material == order["Material"]:
        batch = order["Batch"]
    if batch_managed and not batch:
        raise business(400, "M7/036", f"Enter a batch for material {material}", service, "Batch")
    if batch and not batch_managed:
        raise business(
            400, "M7/035", f"Material {material} is not managed in batches", service, "Batch"
        )
    unit = product["BaseUnit"]
    entry_unit = item.get("EntryUnit") or unit
    if entry_unit != unit:
        raise business(
            400, "M7/079", f"Unit {entry_unit} is not the base unit {unit} of {material}", service
        )
    quantity = _decimal(item, "QuantityInEntryUnit")
    if quantity <= 0:
        raise business(400, "M7/046", "Enter a quantity greater than zero", service)
    stock_type = item.get("InventoryStockType") or "01"
    if stock_type not in STOCK_TYPES:
        raise business(400, "M7/431", f"Stock type {stock_type} is not allowed", service)
    _change_stock(
        ctx,
        material,
        plant,
        location,
        batch,
        stock_type,
        MOVEMENTS[code][movement] * quantity,
        unit,
        service,
    )
    if movement in ("261", "262"):
        _book_withdrawal(ctx, order_number, material, quantity if movement == "261" else -quantity)
    return {
        **item,
        "Material": material,
        "Plant": plant,
        "StorageLocation": location,
        "Batch": batch,
        "GoodsMovementType": movement,
        "InventoryStockType": stock_type,
        "ManufacturingOrder": order_number,
        "QuantityInEntryUnit": wire_decimal(quantity),
        "EntryUnit": unit,
        "QuantityInBaseUnit": wire_decimal(quantity),
        "MaterialBaseUnit": unit,
        "GoodsMovementRefDocType": "F",
    }


def _change_stock(ctx, material, plant, location, batch, stock_type, delta, unit, service):
    key = seed_data.stock_row(material, location, batch, stock_type, 0)
    key["Plant"] = plant
    row = next(
        (
            row
            for row in ctx.store.find("A_MatlStkInAcctMod", Material=material)
            if (row["Plant"], row["StorageLocation"], row["Batch"], row["InventoryStockType"])
            == (plant, location, batch, stock_type)
        ),
        key,
    )
    quantity = _decimal(row, "MatlWrhsStkQtyInMatlBaseUnit") + delta
    if quantity < 0:
        names = {"01": "Unrestricted-use", "02": "Quality inspection", "07": "Blocked stock"}
        raise business(
            400,
            "M7/021",
            f"Deficit of SL {names[stock_type]} {-quantity:f} {unit} : {material} {plant}"
            f" {location}{' ' + batch if batch else ''}",
            service,
            "QuantityInEntryUnit",
        )
    ctx.store.put(
        "A_MatlStkInAcctMod", {**row, "MatlWrhsStkQtyInMatlBaseUnit": wire_decimal(quantity)}
    )


def _book_withdrawal(ctx, order_number, material, quantity):
    for component in ctx.store.find(
        "A_ProductionOrderComponent_2", ManufacturingOrder=order_number
    ):
        if component["Material"] == material:
            withdrawn = _decimal(component, "WithdrawnQuantity") + quantity
            ctx.store.put(
                "A_ProductionOrderComponent_2",
                {**component, "WithdrawnQuantity": wire_decimal(withdrawn)},
            )
            return


def stock_quantity(store, material, location, batch="", stock_type="01", plant=seed_data.PLANT):
    """Current stock (Decimal) of one stock row; zero when SAP has no such row."""
    for row in store.find("A_MatlStkInAcctMod", Material=material):
        if (row["Plant"], row["StorageLocation"], row["Batch"], row["InventoryStockType"]) == (
            plant,
            location,
            batch,
            stock_type,
        ):
            return Decimal(row["MatlWrhsStkQtyInMatlBaseUnit"])
    return Decimal(0)
