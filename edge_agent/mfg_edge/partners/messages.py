"""The demo partner systems' messages: CloudEvents whose data follows the flow addons'
contracts (addons/*/contracts/<type>/1.0.json), built from what Odoo told or showed them.

Pure functions, no I/O: the unit tests validate every message against the contracts.
Event ids are name-based (uuid5 of the system, the run and what the message is about), so a
message sent again after a restart is a duplicate in Odoo, never a second effect.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

CONTRACT_VERSION = "1.0"
ID_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-4a8e-9b7e-2f6c2d0f5a10")
# The CMMS's technician: the demo admin's login (cmms.technician.assigned names an Odoo user).
TECHNICIAN = "admin"
# Spare parts of Machine M1 as the CMMS knows them -> Odoo's internal reference (SKF-6204-2RS
# is mapped to BRG-6204 in the demo; FLT-H10 is Odoo's own reference).
CMMS_PARTS = {"SKF-6204-2RS": "BRG-6204", "FLT-H10": "FLT-H10"}
CMMS_EQUIPMENT = "EQ-M1"
PREVENTIVE_TASKS = (
    "Lubricate spindle and check bearing noise",
    "Replace hydraulic filter",
    "Inspect press guards and light curtain",
    "Check hydraulic pressure and hoses",
)
CARRIERS = ("DHL", "DB Schenker", "UPS", "Kuehne+Nagel")
CRM_CUSTOMERS = ("CUST-0042", "CUST-0077")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(source: str, run: str, kind: str, subject: str, data: dict, step: str, now=None):
    """One CloudEvent of contract ``kind`` 1.0; ``step`` names what it is about within
    ``subject`` (its id is the same whenever the same step is sent again)."""
    name = f"{source}|{run}|{kind}|{subject}|{step}"
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid5(ID_NAMESPACE, name)),
        "source": source,
        "type": kind,
        "dataschema": f"urn:mfg:contract:{kind}:{CONTRACT_VERSION}",
        "time": stamp(now or datetime.now(tz=UTC)),
        "subject": subject,
        "data": data,
    }


# -- supplier portal ---------------------------------------------------------------------------


def po_confirmation(order: dict, rng: random.Random) -> dict:
    """supplier.po.confirmed: every line in full, on the date and at the price ordered.

    ``order``: {name, lines: [{product_code, qty, date_planned (RFC 3339), price_unit}]}.
    """
    return {
        "po_ref": order["name"],
        "supplier_ref": f"AB-{rng.randint(10000, 99999)}",
        "lines": [
            {
                "line": position,
                "product_code": line["product_code"],
                "confirmed_qty": line["qty"],
                "confirmed_date": line["date_planned"],
                "price_unit": line["price_unit"],
            }
            for position, line in enumerate(order["lines"], start=1)
        ],
    }


def shipment_notice(order: dict, rng: random.Random, now: datetime) -> dict:
    """supplier.shipment.notified: the confirmed goods shipped, a lot per tracked line."""
    lines = []
    for position, line in enumerate(order["lines"], start=1):
        entry = {"line": position, "product_code": line["product_code"], "qty": line["qty"]}
        if line.get("tracked"):
            entry["lot"] = f"H-{rng.randint(1000, 9999)}"
        lines.append(entry)
    return {
        "po_ref": order["name"],
        "shipment_ref": f"DN-{rng.randint(10000, 99999)}",
        "carrier_ref": f"1Z{rng.randint(10**11, 10**12 - 1)}",
        "expected_arrival": stamp(now + timedelta(hours=rng.randint(4, 30))),
        "lines": lines,
    }


# -- CMMS ------------------------------------------------------------------------------------


def request_equipment(request: dict) -> str | None:
    """The equipment code of Odoo's maintenance.request.created data: its serial number,
    else its name (the CMMS's equipment lookup in Odoo takes either); None: none named."""
    return request.get("equipment_serial") or request.get("equipment") or None


def workorder_for_request(reference: str, request: dict, now: datetime) -> dict:
    """cmms.workorder.created answering Odoo's maintenance.request.created (the work on the
    request's equipment, which ``request_equipment`` must name)."""
    return {
        "workorder_ref": reference,
        "title": request["title"][:256],
        "maintenance_type": request.get("maintenance_type") or "corrective",
        "equipment": request_equipment(request),
        "planned_start": stamp(now),
        "planned_hours": 2,
        "priority": request.get("priority") or "normal",
        "description": f"Opened for Odoo's {request['request_ref']}",
    }


def preventive_workorder(reference: str, rng: random.Random, now: datetime) -> dict:
    """cmms.workorder.created: the CMMS's own preventive plan on Machine M1."""
    return {
        "workorder_ref": reference,
        "title": rng.choice(PREVENTIVE_TASKS),
        "maintenance_type": "preventive",
        "equipment": CMMS_EQUIPMENT,
        "planned_start": stamp(now + timedelta(minutes=5)),
        "planned_hours": rng.choice((1, 1.5, 2, 3)),
        "priority": "normal",
    }


def technician_assigned(reference: str) -> dict:
    return {"workorder_ref": reference, "technician": TECHNICIAN}


def part_consumed(reference: str, part_code: str, qty: float) -> dict:
    return {
        "workorder_ref": reference,
        "consumption_ref": f"{reference}-{part_code}",
        "part_code": part_code,
        "qty": qty,
    }


def workorder_completed(reference: str, hours: float, now: datetime) -> dict:
    return {
        "workorder_ref": reference,
        "labour_hours": hours,
        "completed_at": stamp(now),
        "technician": TECHNICIAN,
        "note": "Done by the CMMS demo crew",
    }


# -- WMS -------------------------------------------------------------------------------------


def shipment_confirmation(
    release: dict, shipment_id: str, rng: random.Random, now: datetime
) -> dict:
    """wms.shipment.confirmed: everything Odoo released is picked and shipped, from the lots
    Odoo reserved, on one pallet."""
    package = f"PAL-{rng.randint(100, 999)}"
    lines = []
    for line in release["lines"]:
        base = {"product_code": line["product_code"], "uom": line["uom"], "package": package}
        if line.get("lots"):
            lines.extend({**base, "qty": lot["qty"], "lot": lot["lot"]} for lot in line["lots"])
        else:
            lines.append({**base, "qty": line["qty"]})
    return {
        "shipment_id": shipment_id,
        "delivery_ref": release["delivery_ref"],
        "shipped_at": stamp(now),
        "carrier": rng.choice(CARRIERS),
        "tracking_ref": f"JD{rng.randint(10**11, 10**12 - 1)}",
        "lines": lines,
    }


# -- CRM -------------------------------------------------------------------------------------


def crm_order(order_id: str, products: list[str], rng: random.Random, now: datetime) -> dict:
    """crm.order.placed: a customer orders one or two of the demo's products."""
    chosen = rng.sample(products, k=rng.randint(1, len(products)))
    return {
        "order_id": order_id,
        "customer_code": rng.choice(CRM_CUSTOMERS),
        "customer_ref": f"PO {rng.randint(4000, 9999)}",
        "requested_date": stamp(now + timedelta(days=rng.randint(5, 20))),
        "lines": [
            {"line_id": str(index), "product_code": code, "qty": rng.randint(1, 4) * 5, "uom": "EA"}
            for index, code in enumerate(sorted(chosen), start=1)
        ],
    }
