"""A local stand-in for Odoo's POST /mfg/v1/events, implementing the agreed server contract.

It deduplicates on (source, id), records the order in which events of each subject were applied,
and can be told to misbehave: down (connection refused), 500, 429 + Retry-After, 413 above N
events, slow answers, 401, reject chosen events with 422, or apply a batch and lose the
answer (504). ``node()`` adds a second HTTP front on the same state (a second Odoo node).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_DATASCHEMA = re.compile(r"^urn:mfg:contract:[a-z0-9_.]+:[0-9]+\.[0-9]+$")
_SEQUENCE = re.compile(r"[0-9]{12}")

try:  # the edge venv has it: the stand-in for Odoo shares the benchmark machine's 2 cores
    import orjson

    def _loads(body):
        return orjson.loads(body)

    def _dumps(value) -> bytes:
        return orjson.dumps(value)

    def _canonical(value) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)

except ImportError:  # pragma: no cover - the Odoo venv runs it without orjson

    def _loads(body):
        return json.loads(body)

    def _dumps(value) -> bytes:
        return json.dumps(value).encode()

    def _canonical(value) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


SUMMARY_TYPE = "integration.sent.summary"
_REQUIRED = ("specversion", "id", "source", "type", "dataschema", "time", "subject", "sequence")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client killed with -9 mid-request is part of the tests, not an error worth a trace.
        return


def _handler_class(front, receiver):
    """The HTTP handler of ``front`` (a Receiver or a Node) on ``receiver``'s state."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body go out as two writes: without NODELAY, Nagle + delayed ACK
            # add 40 ms to every small answer and would fake a slow receiver.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with front.lock:
                front._connections.add(self.connection)

        def finish(self):
            with front.lock:
                front._connections.discard(self.connection)
            super().finish()

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            code, answer, headers = front.handle_post(
                self.path,
                self.headers.get("Authorization"),
                self.headers.get("Content-Type"),
                body,
            )
            if code is None:  # the node died after applying: no answer at all
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(code, answer, headers)

        def do_GET(self):
            if self.path == "/_test/stats":
                with receiver.lock:
                    stats = {
                        "applied": len(receiver.applied),
                        "duplicates": receiver.duplicates,
                    }
                self._send(200, stats, {})
            elif self.path != "/mfg/v1/edge/config":
                self._send(404, {"error": {"code": "not_found", "message": self.path}}, {})
            elif self.headers.get("Authorization") != f"Bearer {receiver.api_key}":
                self._send(401, {"error": {"code": "unauthorized", "message": "bad key"}}, {})
            elif receiver.rules_document is None:
                self._send(404, {"error": {"code": "no_rules", "message": "none"}}, {})
            elif self.headers.get("If-None-Match") == receiver.rules_document.get("etag"):
                self._send(304, None, {})
            else:
                self._send(200, receiver.rules_document, {})

        def _send(self, code, answer, headers):
            data = b"" if answer is None else _dumps(answer)
            self.send_response(code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            return

    return Handler


def _close(front) -> None:
    """Close ``front``'s listening socket and its keep-alive connections (which would otherwise
    keep "Odoo" reachable after it went down)."""
    if front._server:
        front._server.shutdown()
        front._server.server_close()
        front._server = None
    with front.lock:
        connections, front._connections = list(front._connections), set()
    for connection in connections:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


class Node:
    """A second HTTP front on a Receiver's state, as a second Odoo node on one database: the
    idempotency keys, the applied events and their order are shared; each node counts the
    requests it answered, can be stopped and started again alone, and can be told to die
    right after applying a batch, before answering (``die_after_apply``)."""

    def __init__(self, receiver: Receiver, port: int = 0):
        self.receiver = receiver
        self.port = port
        self.lock = threading.Lock()
        self.requests = 0
        self.die_after_apply = False
        self._server: ThreadingHTTPServer | None = None
        self._connections: set = set()

    def start(self) -> Node:
        self._server = _QuietServer(("127.0.0.1", self.port), _handler_class(self, self.receiver))
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        _close(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle_post(self, path, authorization, content_type, body):
        with self.lock:
            self.requests += 1
        answer = self.receiver.handle_post(path, authorization, content_type, body)
        if self.die_after_apply and path == "/mfg/v1/events":
            self.die_after_apply = False
            threading.Thread(target=self.stop, daemon=True).start()
            return None, None, None
        return answer


class Receiver:
    def __init__(self, api_key: str = "test-key", port: int = 0):
        self.api_key = api_key
        self.lock = threading.Lock()
        self.applied: dict[tuple[str, str], str] = {}
        self.envelopes: dict[tuple[str, str], dict] = {}
        self.order: dict[str, list[dict]] = defaultdict(list)
        self.heartbeats: list[dict] = []
        # The agent's integration.sent.summary reports, kept apart from business events:
        # (source, id) -> envelope, in arrival order (a later revision of a day comes later).
        self.summaries: dict[tuple[str, str], dict] = {}
        self.duplicates = 0
        self.rejected = 0
        self.requests = 0
        self.status_counts: dict[int, int] = defaultdict(int)
        self.batch_sizes: list[int] = []
        # Faults, changed by tests at any time.
        # None | "500" | "429" | "401" | "slow" | "lose_answers" (apply, then answer 504)
        self.mode: str | None = None
        self.echo_sequence = True  # a duplicate's answer names the held copy's sequence (Odoo's)
        self.retry_after_s = 1
        self.slow_s = 0.0
        self.max_events: int | None = None
        self.reject = None  # callable(envelope) -> error dict or None
        self.rules_document: dict | None = None
        self._server: ThreadingHTTPServer | None = None
        self._connections: set = set()
        self._thread: threading.Thread | None = None
        self.port = port

    # ------------------------------------------------------------------ process control
    def start(self) -> Receiver:
        self._server = _QuietServer(("127.0.0.1", self.port), _handler_class(self, self))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket: the agent sees 'connection refused', as when Odoo is down."""
        _close(self)

    def node(self, port: int = 0) -> Node:
        """Another HTTP front on this receiver's state: a second Odoo node of one database."""
        return Node(self, port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ the contract
    def handle_post(self, path, authorization, content_type, body):
        with self.lock:
            self.requests += 1
        if path != "/mfg/v1/events":
            return 404, {"error": {"code": "not_found", "message": path}}, {}
        if self.mode == "401" or authorization != f"Bearer {self.api_key}":
            return 401, {"error": {"code": "unauthorized", "message": "invalid API key"}}, {}
        if not (content_type or "").startswith("application/json"):
            return 415, {"error": {"code": "unsupported_media_type", "message": content_type}}, {}
        if self.mode == "500":
            return 500, {"error": {"code": "internal", "message": "injected"}}, {}
        if self.mode == "429":
            return (
                429,
                {"error": {"code": "rate_limited", "message": "slow down"}},
                {"Retry-After": str(self.retry_after_s)},
            )
        if self.mode == "slow":
            time.sleep(self.slow_s)
        try:
            document = _loads(body)
            events = document["events"] if isinstance(document, dict) else None
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise ValueError("events must be a list of objects")
        except (ValueError, KeyError) as exc:
            return 400, {"error": {"code": "malformed", "message": str(exc)}}, {}
        if self.max_events is not None and len(events) > self.max_events:
            return 413, {"error": {"code": "too_large", "message": f"max {self.max_events}"}}, {}
        results = []
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        with self.lock:
            self.batch_sizes.append(len(events))
            for index, envelope in enumerate(events):
                status, error = self._apply(envelope)
                result = {"index": index, "id": envelope.get("id"), "status": status}
                if error:
                    result["error"] = error
                if status == "duplicate" and self.echo_sequence:
                    held = self.envelopes.get((envelope["source"], envelope["id"]))
                    result["sequence"] = held.get("sequence") if held else None
                results.append(result)
                counts[status] += 1
        if self.mode == "lose_answers":
            # Applied, then the answer is lost on the way (a proxy's timeout): 504.
            return 504, {"error": {"code": "gateway_timeout", "message": "injected"}}, {}
        if counts["rejected"] and not (counts["accepted"] or counts["duplicate"]):
            code = 422
        elif counts["rejected"]:
            code = 207
        elif counts["accepted"]:
            code = 202
        else:
            code = 200
        with self.lock:
            self.status_counts[code] += 1
        return code, {"results": results, **counts}, {}

    def _apply(self, envelope: dict):
        for name in _REQUIRED:
            if not isinstance(envelope.get(name), str) or not envelope.get(name):
                self.rejected += 1
                return "rejected", {
                    "code": "invalid_envelope",
                    "pointer": f"/{name}",
                    "message": f"{name} is required",
                }
        if envelope["specversion"] != "1.0" or not _DATASCHEMA.match(envelope["dataschema"]):
            self.rejected += 1
            return "rejected", {
                "code": "invalid_envelope",
                "pointer": "/dataschema",
                "message": "bad",
            }
        if not _SEQUENCE.fullmatch(envelope["sequence"]) or not isinstance(
            envelope.get("data"), dict
        ):
            self.rejected += 1
            return "rejected", {
                "code": "invalid_envelope",
                "pointer": "/sequence",
                "message": "bad",
            }
        if envelope["type"] == "edge.heartbeat":
            self.heartbeats.append(envelope)
            return "accepted", None
        if envelope["type"] == SUMMARY_TYPE:
            key = (envelope["source"], envelope["id"])
            if key in self.summaries:
                self.duplicates += 1
                return "duplicate", None
            self.summaries[key] = envelope
            return "accepted", None
        key = (envelope["source"], envelope["id"])
        digest = hashlib.sha256(_canonical(envelope["data"])).hexdigest()
        if key in self.applied:
            if self.applied[key] == digest:
                self.duplicates += 1
                return "duplicate", None
            self.rejected += 1
            return "rejected", {
                "code": "id_conflict",
                "pointer": "/id",
                "message": "same id, other data",
            }
        if self.reject is not None:
            error = self.reject(envelope)
            if error:
                self.rejected += 1
                return "rejected", error
        self.applied[key] = digest
        self.envelopes[key] = envelope
        self.order[envelope["subject"]].append(envelope)
        return "accepted", None

    # ------------------------------------------------------------------ helpers for tests
    def applied_count(self) -> int:
        with self.lock:
            return len(self.applied)

    def day_summaries(self) -> dict[str, int]:
        """{day: total count of the newest summary received for that day} (Odoo keeps the
        newest report of a day: the agent sends a day's revisions in order)."""
        with self.lock:
            newest: dict[str, int] = {}
            for envelope in self.summaries.values():
                data = envelope["data"]
                newest[data["day"]] = sum(int(c["count"]) for c in data["counts"])
            return newest

    def applied_per_day(self) -> dict[str, int]:
        """{UTC day of the event's time: business events applied}."""
        with self.lock:
            days: dict[str, int] = defaultdict(int)
            for envelope in self.envelopes.values():
                days[envelope["time"][:10]] += 1
            return dict(days)

    def wait_for_summaries(self, expected: dict[str, int], timeout: float) -> dict[str, int]:
        """Wait until the newest summary of each day in `expected` says its count; returns the
        newest summaries seen (the caller asserts)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.day_summaries()
            if all(seen.get(day) == n for day, n in expected.items()):
                return seen
            if time.monotonic() >= deadline:
                return seen
            time.sleep(0.1)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.applied_count() >= count:
                return True
            time.sleep(0.05)
        return self.applied_count() >= count

    def out_of_order_subjects(self, key=lambda e: int(e["sequence"])) -> list[str]:
        """Subjects whose events were applied out of the order given by `key`."""
        with self.lock:
            bad = []
            for subject, envelopes in self.order.items():
                keys = [key(e) for e in envelopes]
                if keys != sorted(keys):
                    bad.append(subject)
            return bad
