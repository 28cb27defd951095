"""The emulator's starting data, the same for the same seed: plant 1010 with its storage
locations, finished and raw materials, BoMs, routings, production orders with operations and
components, and stock per material, plant, storage location, batch and stock type."""

import random
from datetime import timedelta
from decimal import Decimal

from .values import sap_timestamp, wire_date, wire_decimal, wire_stamp, wire_time

PLANT = "1010"
RAW_LOCATION = "0001"  # production supply: components are issued from here
FINISHED_LOCATION = "0002"  # finished goods: receipts from orders go here
FIRST_ORDER = 1000000
FIRST_OPERATION_CONFIRMATION = 10000000
FIRST_RESERVATION = 1000
FIRST_MATERIAL_DOCUMENT = 4900000000

# material: (type, unit, group, description, batch managed)
MATERIALS = {
    "FG-BRK100": ("FERT", "PC", "FG-BRAKE", "Brake caliper assembly 100", True),
    "FG-BRK200": ("FERT", "PC", "FG-BRAKE", "Brake caliper assembly 200", True),
    "FG-HNG050": ("FERT", "PC", "FG-HINGE", "Door hinge 50 mm", False),
    "FG-BKT020": ("FERT", "PC", "FG-BRACKET", "Mounting bracket 20", False),
    "FG-PNL300": ("FERT", "PC", "FG-PANEL", "Control panel housing 300", False),
    "RM-PLT3MM": ("ROH", "KG", "RM-STEEL", "Steel plate 3 mm", False),
    "RM-PLT5MM": ("ROH", "KG", "RM-STEEL", "Steel plate 5 mm", False),
    "RM-BLT-M8": ("ROH", "PC", "RM-FASTEN", "Hex bolt M8x30", False),
    "RM-NUT-M8": ("ROH", "PC", "RM-FASTEN", "Hex nut M8", False),
    "RM-PIN-6MM": ("ROH", "PC", "RM-FASTEN", "Hinge pin 6 mm", False),
    "RM-PAD-CER": ("ROH", "PC", "RM-FRICT", "Ceramic brake pad", False),
    "RM-SEAL-40": ("ROH", "PC", "RM-SEAL", "Piston seal 40 mm", False),
    "RM-PNT-BLK": ("ROH", "KG", "RM-PAINT", "Powder coating black", False),
}
# finished material: [(component, quantity per piece)]
BOMS = {
    "FG-BRK100": [
        ("RM-PLT3MM", "1.250"),
        ("RM-BLT-M8", "4"),
        ("RM-PAD-CER", "2"),
        ("RM-SEAL-40", "1"),
    ],
    "FG-BRK200": [
        ("RM-PLT5MM", "1.600"),
        ("RM-BLT-M8", "6"),
        ("RM-PAD-CER", "4"),
        ("RM-SEAL-40", "2"),
    ],
    "FG-HNG050": [("RM-PLT3MM", "0.180"), ("RM-PIN-6MM", "1"), ("RM-PNT-BLK", "0.020")],
    "FG-BKT020": [("RM-PLT5MM", "0.450"), ("RM-BLT-M8", "2"), ("RM-NUT-M8", "2")],
    "FG-PNL300": [
        ("RM-PLT3MM", "2.400"),
        ("RM-BLT-M8", "8"),
        ("RM-NUT-M8", "8"),
        ("RM-PNT-BLK", "0.150"),
    ],
}
# finished material: [(work center, operation text)], operations 0010, 0020...
CALIPER_ROUTING = [
    ("PRESS-01", "Stamp caliper body"),
    ("ASSY-01", "Assemble caliper"),
    ("PACK-01", "Inspect and pack"),
]
ROUTINGS = {
    "FG-BRK100": CALIPER_ROUTING,
    "FG-BRK200": CALIPER_ROUTING,
    "FG-HNG050": [("PRESS-01", "Punch hinge leaves"), ("PAINT-01", "Powder coat")],
    "FG-BKT020": [("PRESS-01", "Cut and bend bracket"), ("ASSY-01", "Fit fasteners")],
    "FG-PNL300": [
        ("PRESS-01", "Stamp panel"),
        ("PAINT-01", "Powder coat"),
        ("ASSY-01", "Assemble housing"),
    ],
}


def unit_of(material):
    return MATERIALS[material][1]


def build(seed, orders, now):
    """{entity set: rows} and the counters, for ``orders`` production orders stamped
    before ``now`` (the last one a minute before it)."""
    rng = random.Random(seed)
    sets = {
        "A_Product": [],
        "A_ProductDescription": [],
        "A_ProductPlant": [],
        "MaterialBOM": [],
        "MaterialBOMItem": [],
        "A_MaterialStock": [],
        "A_MatlStkInAcctMod": [],
        "A_ProductionOrder_2": [],
        "A_ProductionOrderOperation_2": [],
        "A_ProductionOrderComponent_2": [],
    }
    _products(sets, now)
    _boms(sets, now)
    _stock(sets, rng)
    _orders(sets, rng, orders, now)
    meta = {
        "seed": str(seed),
        "orders": str(orders),
        "next_order": str(FIRST_ORDER + orders - 1),
        "next_operation_confirmation": str(FIRST_OPERATION_CONFIRMATION + _operations(sets) - 1),
    }
    return sets, meta


def _operations(sets):
    return len(sets["A_ProductionOrderOperation_2"])


def _products(sets, now):
    created = now - timedelta(days=400)
    for number, (material, (kind, unit, group, description, batch)) in enumerate(MATERIALS.items()):
        sets["A_Product"].append(
            {
                "Product": material,
                "ProductType": kind,
                "ProductGroup": group,
                "BaseUnit": unit,
                "GrossWeight": wire_decimal("0.850" if unit == "PC" else "1"),
                "WeightUnit": "KG",
                "IsMarkedForDeletion": False,
                "CrossPlantStatus": "",
                "CreationDate": wire_date(created),
                "LastChangeDateTime": wire_stamp(now - timedelta(days=30, minutes=number)),
            }
        )
        sets["A_ProductDescription"].append(
            {"Product": material, "Language": "EN", "ProductDescription": description}
        )
        sets["A_ProductPlant"].append(
            {
                "Product": material,
                "Plant": PLANT,
                "MRPType": "PD",
                "MRPResponsible": "001",
                "ProcurementType": "E" if kind == "FERT" else "F",
                "ProductionInvtryManagedLoc": RAW_LOCATION if kind == "ROH" else FINISHED_LOCATION,
                "IsBatchManagementRequired": batch,
                "ProfitCenter": "YB101",
            }
        )
        sets["A_MaterialStock"].append({"Material": material, "MaterialBaseUnit": unit})


def bom_number(material):
    return f"{list(BOMS).index(material) + 1:08d}"


def _boms(sets, now):
    for material, items in BOMS.items():
        header = {
            "BillOfMaterial": bom_number(material),
            "BillOfMaterialCategory": "M",
            "BillOfMaterialVariant": "1",
            "BillOfMaterialVersion": "",
            "EngineeringChangeDocument": "",
            "Material": material,
            "Plant": PLANT,
        }
        sets["MaterialBOM"].append(
            {
                **header,
                "BillOfMaterialVariantUsage": "1",
                "BOMHeaderBaseUnit": unit_of(material),
                "BOMHeaderQuantityInBaseUnit": wire_decimal(1),
                "BOMHeaderText": MATERIALS[material][3],
                "ValidityStartDate": wire_date(now - timedelta(days=365)),
                "ValidityEndDate": "/Date(253402214400000)/",  # 9999-12-31, SAP's open end
                "LastChangeDateTime": wire_stamp(now - timedelta(days=20)),
            }
        )
        for position, (component, quantity) in enumerate(items, start=1):
            sets["MaterialBOMItem"].append(
                {
                    **header,
                    "BillOfMaterialItemNodeNumber": str(position),
                    "BillOfMaterialItemNumber": f"{position * 10:04d}",
                    "BillOfMaterialItemCategory": "L",
                    "BillOfMaterialComponent": component,
                    "BillOfMaterialItemQuantity": wire_decimal(quantity),
                    "BillOfMaterialItemUnit": unit_of(component),
                    "ComponentScrapInPercent": wire_decimal(0, 2),
                    "ProdOrderIssueLocation": RAW_LOCATION,
                    "BOMItemDescription": MATERIALS[component][3],
                }
            )


def stock_row(material, location, batch, stock_type, quantity):
    return {
        "Material": material,
        "Plant": PLANT,
        "StorageLocation": location,
        "Batch": batch,
        "Supplier": "",
        "Customer": "",
        "WBSElementInternalID": "00000000",
        "SDDocument": "",
        "SDDocumentItem": "000000",
        "InventorySpecialStockType": "",
        "InventoryStockType": stock_type,
        "MaterialBaseUnit": unit_of(material),
        "MatlWrhsStkQtyInMatlBaseUnit": wire_decimal(quantity),
    }


def _stock(sets, rng):
    rows = sets["A_MatlStkInAcctMod"]
    for material, (kind, unit, _group, _text, batch) in MATERIALS.items():
        location = RAW_LOCATION if kind == "ROH" else FINISHED_LOCATION
        # raw materials: plenty, so a demo's issues do not run out; finished goods: some
        base = rng.randrange(200_000, 400_000) if kind == "ROH" else rng.randrange(20, 400)
        quantity = Decimal(base) if unit == "PC" else Decimal(base) / 10
        batches = [f"B2026-{n:04d}" for n in range(1, 3)] if batch else [""]
        for name in batches:
            rows.append(stock_row(material, location, name, "01", quantity / len(batches)))
        if kind == "ROH":  # some stock in quality inspection
            rows.append(
                stock_row(material, location, batches[0], "02", Decimal(rng.randrange(5, 50)))
            )


def _orders(sets, rng, count, now):
    finished = list(BOMS)
    operation_number = FIRST_OPERATION_CONFIRMATION
    for index in range(count):
        material = rng.choice(finished)
        quantity = Decimal(rng.randrange(2, 100) * 5)
        order, operations, components = order_rows(
            FIRST_ORDER + index,
            material,
            quantity,
            changed=now - timedelta(minutes=count - index),
            start=(now + timedelta(days=index % 30 - 5)).date(),
            released=index % 10 != 9,  # every tenth order is only created, not yet released
            first_confirmation=operation_number,
        )
        sets["A_ProductionOrder_2"].append(order)
        sets["A_ProductionOrderOperation_2"] += operations
        sets["A_ProductionOrderComponent_2"] += components
        operation_number += len(operations)


def order_rows(number, material, quantity, *, changed, start, released, first_confirmation):
    """(order, operations, components) of production order ``number`` for ``material``."""
    order_id = str(number)
    batch = f"B{order_id}" if MATERIALS[material][4] else ""
    order = {
        "ManufacturingOrder": order_id,
        "ManufacturingOrderCategory": "10",
        "ManufacturingOrderType": "PP01",
        "ManufacturingOrderText": MATERIALS[material][3],
        "Material": material,
        "ProductionPlant": PLANT,
        "ProductionVersion": "0001",
        "ProductionSupervisor": "001",
        "MRPController": "001",
        "StorageLocation": FINISHED_LOCATION,
        "Batch": batch,
        "TotalQuantity": wire_decimal(quantity),
        "MfgOrderPlannedScrapQty": wire_decimal(0),
        "MfgOrderConfirmedYieldQty": wire_decimal(0),
        "ProductionUnit": unit_of(material),
        "MfgOrderPlannedStartDate": wire_date(start),
        "MfgOrderPlannedStartTime": wire_time(6),
        "MfgOrderPlannedEndDate": wire_date(start + timedelta(days=2)),
        "MfgOrderPlannedEndTime": wire_time(22),
        "MfgOrderCreationDate": wire_date(changed),
        "MfgOrderActualReleaseDate": wire_date(changed) if released else None,
        "OrderIsCreated": True,
        "OrderIsReleased": released,
        "OrderIsPartiallyConfirmed": False,
        "OrderIsConfirmed": False,
        "OrderIsTechnicallyCompleted": False,
        "OrderIsLocked": False,
        "BillOfOperationsType": "N",
        "BillOfOperationsGroup": f"5000{list(BOMS).index(material):04d}",
        "BillOfMaterial": bom_number(material),
        "LastChangeDateTime": sap_timestamp(changed),
        "__version": 1,
    }
    operations = [
        {
            "OrderInternalBillOfOperations": f"{number:010d}",
            "OrderIntBillOfOperationsItem": f"{position:08d}",
            "ManufacturingOrder": order_id,
            "ManufacturingOrderSequence": "0",
            "ManufacturingOrderOperation": f"{position * 10:04d}",
            "MfgOrderOperationText": operation_text,
            "OperationConfirmation": str(first_confirmation + position - 1),
            "WorkCenter": work_center,
            "ProductionPlant": PLANT,
            "OperationControlProfile": "YBP1",
            "OpPlannedTotalQuantity": wire_decimal(quantity),
            "OpTotalConfirmedYieldQty": wire_decimal(0),
            "OpTotalConfirmedScrapQty": wire_decimal(0),
            "OperationUnit": unit_of(material),
            "OpErlstSchedldExecStrtDte": wire_date(start),
            "OpErlstSchedldExecEndDte": wire_date(start + timedelta(days=2)),
            "OperationIsConfirmed": False,
            "OperationIsPartiallyConfirmed": False,
            "LastChangeDateTime": sap_timestamp(changed),
        }
        for position, (work_center, operation_text) in enumerate(ROUTINGS[material], start=1)
    ]
    components = [
        {
            "Reservation": f"{number - FIRST_ORDER + FIRST_RESERVATION:010d}",
            "ReservationItem": f"{position:04d}",
            "ReservationRecordType": "",
            "ManufacturingOrder": order_id,
            "ManufacturingOrderOperation": "0010",
            "Material": component,
            "Plant": PLANT,
            "StorageLocation": RAW_LOCATION,
            "Batch": "",
            "BillOfMaterialItemNumber": f"{position * 10:04d}",
            "GoodsMovementType": "261",
            "RequiredQuantity": wire_decimal(quantity * Decimal(per_piece)),
            "WithdrawnQuantity": wire_decimal(0),
            "BaseUnit": unit_of(component),
            "MaterialComponentIsPhantomItem": False,
        }
        for position, (component, per_piece) in enumerate(BOMS[material], start=1)
    ]
    return order, operations, components
