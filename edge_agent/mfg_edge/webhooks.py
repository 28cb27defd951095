"""Standard Webhooks signing and a receiver for Odoo's outbound CloudEvents (demo systems).

Shared by the simulator's MES (mes_simulator.py) and the demo partner systems
(partners/): ``sign_headers`` signs a request to Odoo (its optional inbound signature),
``verify`` checks one from Odoo, and ``WebhookReceiver`` serves ``POST <path>`` for any number
of systems on one port, each with its own secret and its own handler.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_S = 300
MAX_BODY_BYTES = 5 * 1024 * 1024


def _secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(secret: str, message_id: str, body: bytes, now: float | None = None) -> dict:
    """The webhook-id, webhook-timestamp and webhook-signature headers of ``body``."""
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


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


@dataclass
class Route:
    """One system's endpoint: its secret and what to do with each CloudEvent (returns a
    short outcome for the log)."""

    secret: str
    apply: Callable[[dict], str]
    name: str = "webhook"


class WebhookReceiver:
    """HTTP endpoints ``POST <path>`` for Odoo's outbound events, one route per path."""

    def __init__(self, routes: dict[str, Route], host: str, port: int):
        self.routes = routes
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
        for path, route in self.routes.items():
            _logger.info(
                "%s: receiving Odoo's events on 127.0.0.1:%d%s", route.name, self.port, path
            )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path, headers, stream) -> tuple[int, dict]:
        route = self.routes.get(path.split("?")[0])
        if route is None:
            return 404, {"error": "not_found"}
        try:
            length = int(headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            return 413, {"error": "too_large"}
        body = stream.read(length)
        problem = verify(route.secret, headers, body)
        if problem:
            _logger.warning("%s: refused a webhook: %s", route.name, problem)
            return 401, {"error": "bad_signature", "message": problem}
        try:
            document = json.loads(body)
        except ValueError:
            return 400, {"error": "malformed", "message": "the body is not JSON"}
        events = document if isinstance(document, list) else [document]
        if not all(isinstance(event, dict) for event in events):
            return 400, {"error": "malformed", "message": "expected CloudEvents objects"}
        for event in events:
            outcome = route.apply(event)
            self.received += 1
            _logger.info(
                "%s: %s %s: %s", route.name, event.get("type"), event.get("subject"), outcome
            )
        return 200, {"accepted": len(events)}
