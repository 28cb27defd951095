"""Metrics about the agent itself, served as Prometheus text with /healthz on localhost."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_logger = logging.getLogger(__name__)

_HELP = {
    "mfg_edge_messages_received_total": "Source messages received, by source kind",
    "mfg_edge_events_stored_total": "Events committed to the local store",
    "mfg_edge_events_duplicate_ingest_total": "Source messages already known (redeliveries)",
    "mfg_edge_events_shed_total": "Telemetry events dropped because the store was full",
    "mfg_edge_store_full_blocked_total": "Transactional events held at the source, store full",
    "mfg_edge_ingest_dead_letters_total": "Source messages that fit no rule (kept as dead letters)",
    "mfg_edge_events_sent_total": "Events answered accepted or duplicate by the receiver",
    "mfg_edge_events_redelivered_total": (
        "Events the receiver already had from an earlier delivery (a source's redelivery after a"
        " crash or reconnect): answered duplicate, not counted again"
    ),
    "mfg_edge_events_rejected_total": "Events answered rejected (moved to the dead-letter table)",
    "mfg_edge_send_errors_total": "Failed POSTs by reason",
    "mfg_edge_auth_failures_total": "POSTs answered 401/403",
    "mfg_edge_heartbeats_sent_total": "Heartbeats delivered",
    "mfg_edge_backlog_events": "Events waiting in the store",
    "mfg_edge_oldest_event_age_seconds": "Age of the oldest waiting event",
    "mfg_edge_dead_letters": "Rows in the dead-letter table",
    "mfg_edge_sender_blocked": "1 while the sender is stopped by an authentication failure",
    "mfg_edge_source_connected": "1 when the source is connected",
    "mfg_edge_arrival_to_durable_seconds_max": "Worst arrival-to-commit delay in the last window",
    "mfg_edge_store_bytes": "Size of the SQLite files on disk",
    "mfg_edge_clock_synchronised": "1 when the wall clock passes the synchronisation checks",
}


def _label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{str(v).replace(chr(34), "")}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


class Metrics:
    """Thread-safe counters and gauges; gauges may be callables evaluated at scrape time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, tuple], float] = {}
        self._gauges: dict[tuple[str, tuple], float | Callable[[], float]] = {}

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + amount

    def set(self, name: str, value: float | Callable[[], float], **labels: str) -> None:
        with self._lock:
            self._gauges[(name, tuple(sorted(labels.items())))] = value

    def value(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            if key in self._counters:
                return self._counters[key]
            gauge = self._gauges.get(key, 0)
        return gauge() if callable(gauge) else gauge

    def render(self) -> str:
        with self._lock:
            counters = dict(self._counters)
            gauges = dict(self._gauges)
        lines = []
        for kind, series in (("counter", counters), ("gauge", gauges)):
            names = sorted({name for name, _ in series})
            for name in names:
                lines.append(f"# HELP {name} {_HELP.get(name, name)}")
                lines.append(f"# TYPE {name} {kind}")
                for (series_name, labels), value in sorted(series.items(), key=lambda i: str(i)):
                    if series_name != name:
                        continue
                    try:
                        number = value() if callable(value) else value
                    except Exception:  # a failing gauge must not break the whole scrape
                        _logger.exception("gauge %s failed", name)
                        continue
                    lines.append(f"{name}{_label_text(dict(labels))} {float(number):g}")
        return "\n".join(lines) + "\n"


class MetricsServer:
    """/metrics (Prometheus text) and /healthz (JSON) on a local port, in a daemon thread."""

    def __init__(self, metrics: Metrics, health: Callable[[], dict], host: str, port: int):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/metrics":
                    body = outer.metrics.render().encode()
                    self._answer(200, "text/plain; version=0.0.4", body)
                elif self.path == "/healthz":
                    state = outer.health()
                    code = 200 if state.get("ok") else 503
                    self._answer(code, "application/json", json.dumps(state).encode())
                else:
                    self._answer(404, "text/plain", b"not found\n")

            def _answer(self, code, content_type, body):
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                return

        self.metrics = metrics
        self.health = health
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        _logger.info("metrics and health on http://127.0.0.1:%d/metrics and /healthz", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
