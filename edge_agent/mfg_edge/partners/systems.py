"""The four demo partner systems: what each does with Odoo's events and what it sends next.

Each system has ``apply(event)`` (an outbound event of Odoo's, from the webhook) and
``step()`` (its next message to Odoo, or None: one message per step, the runner paces the
steps). ``sent(...)`` records that Odoo took a step's message. Their memory is one
``PartnerState``, a JSON file, so a restarted emulator goes on where it stopped.

They act only on the demo's data: the demo suppliers' orders, Machine M1 and its spare parts
(only what is free in stock), the deliveries and requests Odoo sends them, and the demo's
CRM customers and products; so the exception queue gets nothing from them.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import threading
from datetime import UTC, datetime

from . import messages

_logger = logging.getLogger(__name__)

# Work orders the CMMS keeps open at once: Odoo's requests wait for a free crew.
MAX_OPEN_WORKORDERS = 2
# CRM orders one emulator run places at the most (the quotations wait for sales).
MAX_CRM_ORDERS = 12
# Idle steps of the CMMS between two preventive work orders, and of the CRM between orders.
PREVENTIVE_EVERY = (3, 6)
CRM_ORDER_EVERY = (3, 6)
# The demo's finished products, mapped for the CRM and the WMS (mfg_integration_logistics's
# demo): the CRM sells them, the WMS stocks and ships them (and nothing else).
CRM_PRODUCTS = ["BRK-100", "CBX-200"]
WMS_PRODUCTS = CRM_PRODUCTS


def now() -> datetime:
    return datetime.now(tz=UTC)


class PartnerState:
    """The partners' memory, persisted to ``path`` (JSON, atomically replaced)."""

    def __init__(self, path: str | None, database: str, run: str):
        self.path = path
        self.lock = threading.RLock()
        fresh = {
            "database": database,
            "run": run,
            "counters": {"workorder": 1000, "crm": 2000, "shipment": 500},
            "supplier": {"confirmed": [], "notified": [], "received": 0},
            "cmms": {"requests": [], "workorders": {}, "idle": 0, "done": 0},
            "wms": {"releases": {}, "shipped": []},
            "crm": {"placed": 0, "idle": 0, "acknowledged": 0, "delivery_status": 0},
            "seen": [],
        }
        self.data = fresh
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as stream:
                stored = json.load(stream)
            if stored.get("database") == database:  # another database: start afresh
                self.data = stored

    @property
    def run(self) -> str:
        return self.data["run"]

    def next_number(self, counter: str) -> int:
        with self.lock:
            self.data["counters"][counter] += 1
            return self.data["counters"][counter]

    def first_time(self, event_id: str | None) -> bool:
        """False for an event id applied before (Odoo delivers at least once)."""
        with self.lock:
            if not event_id:
                return True
            if event_id in self.data["seen"]:
                return False
            self.data["seen"] = self.data["seen"][-2000:] + [event_id]
            return True

    def save(self) -> None:
        if not self.path:
            return
        with self.lock:
            directory = os.path.dirname(os.path.abspath(self.path))
            descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".partners-")
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                json.dump(self.data, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)


class PartnerSystem:
    """What the four systems share: their code in Odoo, CloudEvents source and memory."""

    code = ""
    name = ""

    def __init__(self, state: PartnerState, rng: random.Random, reader=None):
        self.state = state
        self.rng = rng
        self.reader = reader  # odoo.DemoReader, for the systems that look at Odoo's data
        self.source = f"{self.code}/demo-emulator"

    def event(self, kind: str, subject: str, data: dict, step: str) -> dict:
        return messages.envelope(self.source, self.state.run, kind, subject, data, step, now())

    def apply(self, event: dict) -> str:
        """Odoo's event ``event``: what the system did with it (for the log)."""
        return "ignored"

    def remember(self, event: dict, change, outcome: str) -> str:
        """Apply ``change(data)`` to the memory once per event id and save it; ``outcome``,
        or 'duplicate' for an event applied before (Odoo delivers at least once)."""
        with self.state.lock:
            if not self.state.first_time(event.get("id")):
                return "duplicate"
            change(self.state.data)
            self.state.save()
        return outcome

    def step(self) -> tuple[dict, object] | None:
        """The next message and what ``sent`` records once Odoo took it; None: nothing to do."""
        return None

    def sent(self, memo) -> None:
        """Odoo accepted the message of ``memo`` (step's second value)."""


class SupplierPortal(PartnerSystem):
    """The demo suppliers' portal: confirms their purchase orders in full, then notifies the
    shipment (ASN); told of goods received."""

    code = "supplier_portal"
    name = "Supplier portal"

    def apply(self, event):
        if event.get("type") != "procurement.goods.received":
            return "ignored"

        def count(data):
            data["supplier"]["received"] += 1

        return self.remember(event, count, "shipment closed")

    def step(self):
        memory = self.state.data["supplier"]
        orders = self.reader.supplier_orders()
        for order in orders:
            pending = [line for line in order["lines"] if not line["confirmed"]]
            if pending and order["name"] not in memory["confirmed"]:
                data = messages.po_confirmation(order, self.rng)
                kind = "supplier.po.confirmed"
                return self.event(kind, order["name"], data, "confirmed"), ("confirmed", order)
        for order in orders:
            ready = order["lines"] and all(line["confirmed"] for line in order["lines"])
            if (
                ready
                and order["open_receipt"]
                and not order["notified"]
                and order["name"] not in memory["notified"]
            ):
                data = messages.shipment_notice(order, self.rng, now())
                kind = "supplier.shipment.notified"
                return self.event(kind, order["name"], data, "shipped"), ("notified", order)
        return None

    def sent(self, memo):
        what, order = memo
        with self.state.lock:
            self.state.data["supplier"][what].append(order["name"])
            self.state.save()


class Cmms(PartnerSystem):
    """The plant's CMMS: answers Odoo's maintenance requests with a work order, runs its own
    preventive plan on Machine M1, and reports each work order's technician, the spare part
    used (only when free in stock) and its completion with the hours booked."""

    code = "plant1_cmms"
    name = "CMMS"

    def apply(self, event):
        if event.get("type") != "maintenance.request.created":
            return "ignored"
        request = event.get("data") or {}
        equipment = messages.request_equipment(request)
        if not equipment:  # nothing to work on: the CMMS leaves it to a planner
            return "ignored: no equipment named"
        memory = self.state.data["cmms"]
        with self.state.lock:
            open_orders = [
                reference
                for reference, workorder in memory["workorders"].items()
                if workorder["equipment"] == equipment
            ]
            queued = any(messages.request_equipment(r) == equipment for r in memory["requests"])
        if open_orders or queued:  # the crew on that machine takes it along
            covered = open_orders[0] if open_orders else "a work order being planned"
            return self.remember(event, lambda data: None, f"covered by {covered}")

        def plan(data):
            data["cmms"]["requests"].append(request)

        return self.remember(event, plan, "queued for planning")

    def _reference(self) -> str:
        return f"WO-{self.state.next_number('workorder')}"

    def step(self):
        memory = self.state.data["cmms"]
        if memory["requests"] and len(memory["workorders"]) < MAX_OPEN_WORKORDERS:
            request = memory["requests"][0]
            reference = self._reference()
            data = messages.workorder_for_request(reference, request, now())
            event = self.event("cmms.workorder.created", reference, data, "created")
            return event, ("created", reference, data["equipment"])
        if memory["workorders"]:
            reference = min(memory["workorders"], key=lambda r: int(r.split("-")[1]))
            return self._advance(reference, memory["workorders"][reference])
        memory["idle"] += 1
        if memory["idle"] >= self.rng.randint(*PREVENTIVE_EVERY):
            reference = self._reference()
            data = messages.preventive_workorder(reference, self.rng, now())
            event = self.event("cmms.workorder.created", reference, data, "created")
            return event, ("preventive", reference, data["equipment"])
        return None

    def _advance(self, reference, workorder):
        stage = workorder["stage"]
        if stage == "created":
            data = messages.technician_assigned(reference)
            return self.event("cmms.technician.assigned", reference, data, "assigned"), (
                "assigned",
                reference,
            )
        if stage == "assigned":
            part = self.rng.choice(sorted(messages.CMMS_PARTS))
            free = self.reader.free_quantities([messages.CMMS_PARTS[part]])
            if free.get(messages.CMMS_PARTS[part], 0.0) >= 1:
                data = messages.part_consumed(reference, part, 1)
                event = self.event("cmms.part.consumed", reference, data, f"part-{part}")
                return event, ("consumed", reference)
            _logger.info("CMMS: no %s free in stock for %s: done without it", part, reference)
            workorder["stage"] = "consumed"
        hours = self.rng.choice((0.5, 1, 1.5, 2, 2.5))
        data = messages.workorder_completed(reference, hours, now())
        return self.event("cmms.workorder.completed", reference, data, "completed"), (
            "completed",
            reference,
        )

    def sent(self, memo):
        what, reference, *equipment = memo
        memory = self.state.data["cmms"]
        with self.state.lock:
            if what == "created":
                memory["requests"].pop(0)
            if what in ("created", "preventive"):
                memory["workorders"][reference] = {"stage": "created", "equipment": equipment[0]}
                memory["idle"] = 0
            elif what == "completed":
                memory["workorders"].pop(reference, None)
                memory["done"] += 1
            else:
                memory["workorders"][reference]["stage"] = what
            self.state.save()


class Wms(PartnerSystem):
    """The distribution center's WMS: takes the deliveries Odoo releases (the webhook's 200
    is its acknowledgment), picks those of the goods it stocks and confirms the shipment,
    oldest first."""

    code = "dc_wms"
    name = "WMS"

    def apply(self, event):
        if event.get("type") != "wms.delivery.released":
            return "ignored"
        release = event.get("data") or {}
        reference = release.get("delivery_ref")
        if not reference or reference in self.state.data["wms"]["shipped"]:
            return "ignored"
        unknown = {line.get("product_code") for line in release.get("lines") or []} - set(
            WMS_PRODUCTS
        )
        if unknown:  # Odoo's own demo goods are not stocked in the distribution center
            return f"ignored: {', '.join(sorted(map(str, unknown)))} not stocked here"

        def pick(data):
            data["wms"]["releases"][reference] = release

        return self.remember(event, pick, "to pick")

    def step(self):
        releases = self.state.data["wms"]["releases"]
        if not releases:
            return None
        reference = next(iter(releases))
        shipment = f"SHP-{self.state.next_number('shipment')}"
        data = messages.shipment_confirmation(releases[reference], shipment, self.rng, now())
        return self.event("wms.shipment.confirmed", reference, data, "shipped"), reference

    def sent(self, memo):
        with self.state.lock:
            self.state.data["wms"]["releases"].pop(memo, None)
            self.state.data["wms"]["shipped"] = self.state.data["wms"]["shipped"][-500:] + [memo]
            self.state.save()


class Crm(PartnerSystem):
    """The sales team's CRM: a customer order now and then; told of Odoo's acknowledgments
    and delivery status."""

    code = "cloud_crm"
    name = "CRM"

    def apply(self, event):
        kind = event.get("type")
        counter = {
            "crm.order.acknowledged": "acknowledged",
            "crm.delivery.status": "delivery_status",
        }
        if kind not in counter:
            return "ignored"

        def count(data):
            data["crm"][counter[kind]] += 1

        return self.remember(event, count, "recorded on the CRM order")

    def step(self):
        memory = self.state.data["crm"]
        if memory["placed"] >= MAX_CRM_ORDERS:
            return None
        memory["idle"] += 1
        if memory["placed"] and memory["idle"] < self.rng.randint(*CRM_ORDER_EVERY):
            return None
        order_id = f"CRM-SO-{self.state.next_number('crm')}"
        data = messages.crm_order(order_id, CRM_PRODUCTS, self.rng, now())
        return self.event("crm.order.placed", order_id, data, "placed"), order_id

    def sent(self, memo):
        with self.state.lock:
            self.state.data["crm"]["placed"] += 1
            self.state.data["crm"]["idle"] = 0
            self.state.save()
