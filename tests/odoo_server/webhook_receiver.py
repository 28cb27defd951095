"""A webhook receiver on 127.0.0.1 that misbehaves on purpose, for outbound tests
(with ``fault_scale=0`` it answers 200 at once: the benchmark's receiver).

Each request gets a random answer: 200, 500, 429 with Retry-After, a timeout (it sleeps
past the sender's read timeout), a closed connection (sometimes after applying the event,
as when an answer is lost), or a slow 200. Faults per event are capped so a run ends. It
verifies every Standard Webhooks signature, dedups on webhook-id, and records the order
in which events of a subject were applied.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sign(secret, message_id, timestamp, body):
    key = (
        base64.b64decode(secret[len("whsec_") :])
        if secret.startswith("whsec_")
        else secret.encode()
    )
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class FaultyReceiver:
    FAULTS = (
        ("ok", 0.55),
        ("error_500", 0.10),
        ("rate_limited", 0.08),
        ("timeout", 0.05),
        ("close", 0.04),
        ("close_after_apply", 0.03),
        ("slow", 0.15),
    )

    def __init__(self, secret, read_timeout, seed=5, max_faults_per_event=3, fault_scale=1.0):
        self.secret = secret
        self.read_timeout = read_timeout
        self.rng = random.Random(seed)
        self.max_faults = max_faults_per_event
        self.fault_scale = fault_scale
        self.lock = threading.Lock()
        self.seen = set()  # webhook-ids seen (any answer)
        self.event_ids = set()  # CloudEvents ids seen (batches flattened)
        self.applied = {}  # webhook-id -> CloudEvent
        self.applied_order = {}  # subject -> [sequence, ...] in the order applied
        self.faults = {}  # webhook-id -> faults given
        self.answers = {}  # answer kind -> count
        self.bad_signatures = 0
        self.requests = 0
        self.duplicates = 0
        self.down = False  # True: every request is answered 503 (a receiver that is down)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body leave in one segment: two small writes would wait on the
            # client's delayed ACK (Nagle), 40 ms per answer
            wbufsize = 65536

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _choose(self, webhook_id):
        if self.faults.get(webhook_id, 0) >= self.max_faults:
            return "ok"
        draw = self.rng.random()
        for kind, share in self.FAULTS[1:]:
            draw -= share * self.fault_scale
            if draw < 0:
                if kind != "slow":
                    self.faults[webhook_id] = self.faults.get(webhook_id, 0) + 1
                return kind
        return "ok"

    def _apply(self, webhook_id, events):
        """Apply once per webhook-id (dedup), recording each subject's order."""
        if webhook_id in self.applied:
            self.duplicates += 1
            return
        self.applied[webhook_id] = events
        for event in events:
            self.applied_order.setdefault(event.get("subject"), []).append(event.get("sequence"))

    def handle(self, request, body):
        headers = request.headers
        webhook_id = headers.get("webhook-id")
        expected = sign(self.secret, webhook_id, headers.get("webhook-timestamp"), body)
        signature_ok = any(
            hmac.compare_digest(candidate, expected)
            for candidate in (headers.get("webhook-signature") or "").split()
        )
        parsed = json.loads(body)
        events = parsed if isinstance(parsed, list) else [parsed]
        with self.lock:
            self.requests += 1
            self.seen.add(webhook_id)
            self.event_ids.update(event.get("id") for event in events)
            if not signature_ok:
                self.bad_signatures += 1
                kind = "bad_signature"
            elif self.down:
                kind = "down"
            else:
                kind = self._choose(webhook_id)
            self.answers[kind] = self.answers.get(kind, 0) + 1
            if kind in ("ok", "slow", "close_after_apply"):
                self._apply(webhook_id, events)
        if kind == "bad_signature":
            return self._answer(request, 401, {"error": "bad signature"})
        if kind == "down":
            return self._answer(request, 503, {"error": "maintenance"})
        if kind == "error_500":
            return self._answer(request, 500, {"error": "internal"})
        if kind == "rate_limited":
            return self._answer(request, 429, {"error": "slow down"}, {"Retry-After": "1"})
        if kind == "timeout":
            time.sleep(self.read_timeout + 0.5)
            return self._close(request)
        if kind in ("close", "close_after_apply"):
            return self._close(request)
        if kind == "slow":
            time.sleep(min(0.2, self.read_timeout / 4))
        return self._answer(request, 200, {"status": "applied"})

    @staticmethod
    def _answer(request, status, body, headers=None):
        payload = json.dumps(body).encode()
        request.send_response(status)
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def _close(request):
        request.close_connection = True
        with contextlib.suppress(OSError):
            request.connection.shutdown(socket.SHUT_RDWR)
