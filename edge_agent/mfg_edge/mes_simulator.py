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

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_logger = logging.getLogger(__name__)

RELEASED = "mes.order.released"
CHANGED = "mes.order.changed"
CANCELLED = "mes.order.cancelled"
CLOSED = "mes.order.closed"  # a person completed the order in Odoo
FINISHED = ("done", "cancelled", "closed")
SIGNATURE_TOLERANCE_S = 300
MAX_BODY_BYTES = 5 * 1024 * 1024
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


def _secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers, body: bytes, now: float | None = None) -> str | None:
    """None when the Standard Webhooks signature is valid, else why not."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        return "webhook-id, webhook-timestamp and webhook-signature are required"
    try:
        sent = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not Unix seconds"
    if abs((now if now is not None else time.time()) - sent) > SIGNATURE_TOLERANCE_S:
        return "webhook-timestamp is too far from this clock"
    expected = signature(secret, message_id, timestamp, body)
    if any(hmac.compare_digest(candidate, expected) for candidate in signatures.split()):
        return None
    return "no signature matches the body"


class MesWebhookReceiver:
    """HTTP endpoint ``POST <path>`` for Odoo's outbound MES events."""

    def __init__(self, book: OrderBook, host: str, port: int, secret: str, path="/mes/events"):
        self.book = book
        self.secret = secret
        self.path = path
        self.received = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 65536

            def log_message(self, *args):
                pass

            def do_POST(self):
                status, answer = receiver.handle(self.path, self.headers, self.rfile)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        _logger.info("MES: receiving Odoo's orders on http://127.0.0.1:%d%s", self.port, self.path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path, headers, stream) -> tuple[int, dict]:
        if path.split("?")[0] != self.path:
            return 404, {"error": "not_found"}
        try:
            length = int(headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            return 413, {"error": "too_large"}
        body = stream.read(length)
        problem = verify(self.secret, headers, body)
        if problem:
            _logger.warning("MES: refused a webhook: %s", problem)
            return 401, {"error": "bad_signature", "message": problem}
        try:
            document = json.loads(body)
        except ValueError:
            return 400, {"error": "malformed", "message": "the body is not JSON"}
        events = document if isinstance(document, list) else [document]
        if not all(isinstance(event, dict) for event in events):
            return 400, {"error": "malformed", "message": "expected CloudEvents objects"}
        for event in events:
            outcome = self.book.apply(event)
            self.received += 1
            _logger.info(
                "MES: %s %s: %s",
                event.get("type"),
                (event.get("data") or {}).get("production_ref"),
                outcome,
            )
        return 200, {"accepted": len(events)}


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
