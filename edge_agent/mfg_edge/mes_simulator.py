"""The simulator's MES: it receives the orders Odoo releases and runs them on its lines.

- ``MesWebhookReceiver``: Odoo's outbound webhook (mes.order.released, changed, cancelled),
  CloudEvents over HTTP, each request verified against its Standard Webhooks signature.
- ``OrderBook``: the MES's orders, kept in a JSON file so a restarted simulator resumes
  where it stopped (each order's plan of messages and how far it got).
- ``plan_order``: what a line reports for one order, as the MES would: work orders started,
  counts, the tracked components consumed from the lots Odoo reserved (untracked ones are
  left to backflush), a partial completion with its lot (Odoo makes a backorder), a
  finished unit scrapped, stops (now and then a breakdown), and the final completion.
- ``MesLine``: publishes an order's plan over MQTT (QoS 1), one step per interval.

Message ids are fixed in the plan, so a step published again after a crash is a duplicate
that the edge agent and Odoo recognise, never a second count.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime

from .webhooks import Route, WebhookReceiver

_logger = logging.getLogger(__name__)

RELEASED = "mes.order.released"
CHANGED = "mes.order.changed"
CANCELLED = "mes.order.cancelled"
CLOSED = "mes.order.closed"  # a person completed the order in Odoo
FINISHED = ("done", "cancelled", "closed")
# Reasons of ordinary stops, and the breakdown (mapped to a loss flagged as breakdown).
STOP_REASONS = ("material_shortage", "tool_change", "jam", "quality_check")
BREAKDOWN_REASON = "fault"
# Orders kept in the book after they finished (for status); older ones are forgotten.
KEEP_FINISHED = 200
STEP_QTY = 5


def now_stamp() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------------------------------------
# The plan of one order
# ---------------------------------------------------------------------------------------------


def _take_lots(lots: list[dict], quantity: float) -> list[tuple[str, float]]:
    """Allocate ``quantity`` from ``lots`` (mutated: what is taken is gone), in order."""
    taken = []
    for entry in lots:
        if quantity <= 1e-9:
            break
        step = min(entry["qty"], quantity)
        if step > 1e-9:
            taken.append((entry["lot"], round(step, 6)))
            entry["qty"] -= step
            quantity -= step
    return taken


def plan_order(release: dict, rng: random.Random) -> list[dict]:
    """The messages a line publishes for one released order: [{event, payload}].

    Payloads carry no message id or time: those are added when the plan is stored (ids)
    and published (times).
    """
    ref = release["production_ref"]
    total = float(release["qty"])
    uom = release.get("uom") or "Units"
    operations = sorted(release.get("operations") or [], key=lambda o: o.get("sequence", 0))
    first = operations[0] if operations else None
    last = operations[-1] if operations else None
    per_unit = {
        c["product_code"]: float(c["qty"]) / total if total else 0.0
        for c in release.get("components") or []
    }
    stock = {
        c["product_code"]: [dict(lot) for lot in c.get("lots") or []]
        for c in release.get("components") or []
        if c.get("tracking", "none") != "none"
    }
    tracked = release.get("lot_tracking", "none") != "none"
    steps: list[dict] = []
    base = {"work_order": ref, "product": release["product_code"], "uom": uom}

    def add(event: str, **payload) -> None:
        steps.append({"event": event, "payload": {**base, **payload}})

    def start(operation: dict | None) -> None:
        if operation:
            add("started", qty=total, machine=operation["workcenter"], operation=operation["name"])
        else:
            add("started", qty=total)

    def consume(quantity_produced: float, final: bool) -> None:
        for code, lots in stock.items():
            if final:  # the rest of what was staged for the order
                taken = [(lot["lot"], round(lot["qty"], 6)) for lot in lots if lot["qty"] > 1e-9]
            else:
                taken = _take_lots(lots, per_unit[code] * quantity_produced)
            for lot, quantity in taken:
                add("consumed", component=code, qty=quantity, lot=lot)

    def stop(operation: dict | None, breakdown: bool) -> None:
        if not operation:
            return
        machine = operation["workcenter"]
        downtime_id = f"{machine}-{ref}-{len(steps)}"
        reason = BREAKDOWN_REASON if breakdown else rng.choice(STOP_REASONS)
        add("downtime_started", machine=machine, reason=reason, downtime_id=downtime_id)
        # a breakdown waits for the technician: longer than an ordinary stop
        pause = rng.randint(10, 20) if breakdown else rng.randint(2, 5)
        steps.append({"event": "pause", "payload": {"steps": pause}})
        add("downtime_ended", machine=machine, reason=reason, downtime_id=downtime_id)

    def count(operation: dict | None, start_qty: float, end_qty: float) -> None:
        made = start_qty
        while made < end_qty - 1e-9:
            step = min(STEP_QTY, end_qty - made)
            made += step
            machine = operation["workcenter"] if operation else None
            add("progress", qty=step, qty_done=made, machine=machine)
            if not stopped and made >= total / 3 and rng.random() < 0.5:
                stopped.append(made)
                stop(operation, breakdown=rng.random() < 0.1)

    # a partial completion (and Odoo's backorder) halfway through orders of ten or more
    partial = round(total / 2) if total >= 10 else 0
    lot_base = ref.replace("/", "-")
    stopped: list[float] = []
    start(first)
    if partial:
        count(first, 0, partial)
        consume(partial, final=False)
        lot = f"{lot_base}-1" if tracked else None
        add("completed", qty=partial, lot=lot, final=False)
        if rng.random() < 0.5:  # a unit of the first lot fails the final inspection
            add("scrap", qty=1, reason="dimension", lot=lot)
        if last is not first:
            start(last)
    count(last if partial else first, partial, total)
    consume(total - partial, final=True)
    add("completed", qty=total - partial, lot=f"{lot_base}-2" if tracked else None, final=True)
    for entry in steps:
        entry["payload"] = {
            key: int(value) if isinstance(value, float) and value.is_integer() else value
            for key, value in entry["payload"].items()
            if value is not None
        }
    return steps


# ---------------------------------------------------------------------------------------------
# The order book
# ---------------------------------------------------------------------------------------------


class OrderBook:
    """The MES's orders by reference, persisted to ``path`` (JSON, atomically replaced)."""

    def __init__(self, path: str | None, seed: int | None = None, settle_s: float = 0.0):
        self.path = path
        self.lock = threading.Condition()
        self.seed = seed
        # a released order waits this long before a line takes it, so a close or cancel
        # delivered right after the release (an order completed in Odoo at once) wins
        self.settle_s = settle_s
        self.orders: dict[str, dict] = {}
        self.seen: list[str] = []  # CloudEvents ids applied (bounded)
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as stream:
                state = json.load(stream)
            self.orders = state.get("orders", {})
            self.seen = state.get("seen", [])
            for order in self.orders.values():
                if order["status"] == "running":
                    order["status"] = "queued"  # resumed from its step by the next line

    def _save(self) -> None:
        if not self.path:
            return
        finished = [r for r, o in self.orders.items() if o["status"] in FINISHED]
        for reference in finished[:-KEEP_FINISHED]:
            del self.orders[reference]
        self.seen = self.seen[-5000:]
        directory = os.path.dirname(os.path.abspath(self.path))
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".orders-")
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump({"orders": self.orders, "seen": self.seen}, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.path)

    def apply(self, event: dict) -> str:
        """Apply one CloudEvent from Odoo; returns what happened (for the log)."""
        kind, data, event_id = event.get("type"), event.get("data") or {}, event.get("id")
        reference = data.get("production_ref")
        if not reference or kind not in (RELEASED, CHANGED, CANCELLED, CLOSED):
            return "ignored"
        with self.lock:
            if event_id in self.seen:
                return "duplicate"
            order = self.orders.get(reference)
            outcome = "ignored"
            if kind == RELEASED and order is None:
                self.orders[reference] = {
                    "release": data,
                    "status": "queued",
                    "received": time.time(),
                    "plan": None,
                    "step": 0,
                }
                outcome = "released"
            elif kind == CHANGED and order and order["plan"] is None:
                order["release"].update({k: v for k, v in data.items() if k != "production_ref"})
                outcome = "changed"
            elif kind == CHANGED and order:
                outcome = "changed (already running: the line finishes the planned quantity)"
            elif kind in (CANCELLED, CLOSED) and order and order["status"] not in FINISHED:
                order["status"] = "cancelled" if kind == CANCELLED else "closed"
                outcome = f"{order['status']} (the line stops it)"
            if event_id:
                self.seen.append(event_id)
            self._save()
            self.lock.notify_all()
            return outcome

    def take(self, timeout: float) -> tuple[str, dict] | None:
        """The oldest queued order, now running (its plan made once, with message ids)."""
        with self.lock:
            ready_before = time.time() - self.settle_s
            queued = [
                (o["received"], r)
                for r, o in self.orders.items()
                if o["status"] == "queued" and (o["step"] or o["received"] <= ready_before)
            ]
            if not queued:
                self.lock.wait(min(timeout, self.settle_s) if self.settle_s else timeout)
                return None
            reference = min(queued)[1]
            order = self.orders[reference]
            if order["plan"] is None:
                seed = f"{self.seed}:{reference}" if self.seed is not None else None
                order["plan"] = [
                    {**step, "id": uuid.uuid4().hex}
                    for step in plan_order(order["release"], random.Random(seed))
                ]
            order["status"] = "running"
            self._save()
            return reference, order

    def advance(self, reference: str) -> bool:
        """One step done; False when the order was cancelled meanwhile (the line stops)."""
        with self.lock:
            order = self.orders[reference]
            if order["status"] != "running":  # cancelled or closed in Odoo meanwhile
                return False
            order["step"] += 1
            if order["step"] >= len(order["plan"]):
                order["status"] = "done"
            self._save()
            return order["status"] == "running"

    def release_running(self) -> None:
        """On stop: running orders go back to the queue (resumed at their step)."""
        with self.lock:
            for order in self.orders.values():
                if order["status"] == "running":
                    order["status"] = "queued"
            self._save()

    def counts(self) -> dict[str, int]:
        with self.lock:
            result: dict[str, int] = {}
            for order in self.orders.values():
                result[order["status"]] = result.get(order["status"], 0) + 1
            return result


# ---------------------------------------------------------------------------------------------
# Odoo's webhook
# ---------------------------------------------------------------------------------------------


class MesWebhookReceiver(WebhookReceiver):
    """HTTP endpoint ``POST <path>`` for Odoo's outbound MES events."""

    def __init__(self, book: OrderBook, host: str, port: int, secret: str, path="/mes/events"):
        super().__init__({path: Route(secret, book.apply, "MES")}, host, port)
        self.book = book


# ---------------------------------------------------------------------------------------------
# The lines
# ---------------------------------------------------------------------------------------------


class MesLine(threading.Thread):
    """One production line: runs the book's orders one at a time, a step per interval."""

    def __init__(self, name: str, book: OrderBook, client, prefix: str, interval: float, stop):
        super().__init__(name=name, daemon=True)
        self.book = book
        self.client = client
        self.prefix = prefix.rstrip("/")
        self.interval = interval
        self.stop = stop
        self.published = 0

    def run(self) -> None:
        while not self.stop.is_set():
            taken = self.book.take(timeout=0.5)
            if taken:
                self.run_order(*taken)

    def run_order(self, reference: str, order: dict) -> None:
        _logger.info("%s: running %s (%s steps)", self.name, reference, len(order["plan"]))
        while not self.stop.is_set():
            step = order["plan"][order["step"]]
            if step["event"] == "pause":
                self.stop.wait(self.interval * step["payload"]["steps"])
            else:
                self.publish(step)
            if self.stop.is_set() or not self.book.advance(reference):
                break
            self.stop.wait(self.interval)

    def publish(self, step: dict) -> None:
        payload = {"msg_id": step["id"], "ts": now_stamp(), **step["payload"]}
        # QoS 1: while the broker is away paho keeps the message and sends it on reconnect.
        info = self.client.publish(f"{self.prefix}/{step['event']}", json.dumps(payload), qos=1)
        with contextlib.suppress(RuntimeError, ValueError):
            info.wait_for_publish(timeout=30)
        self.published += 1


def wait_for_url(url: str, stop: threading.Event, timeout: float) -> None:
    """Wait until ``url`` answers (the edge agent's health page), so nothing the lines
    publish goes out before the gateway subscribed; after ``timeout`` go anyway."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url} is not an http(s) address")
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - http(s) checked above
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            stop.wait(1)
    if not stop.is_set():
        _logger.warning("MES: %s did not answer in %.0f s; the lines start anyway", url, timeout)
