"""Metrics about the agent itself through prometheus_client, served with /healthz on localhost."""

from __future__ import annotations

import bisect
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import prometheus_client
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily

_logger = logging.getLogger(__name__)

# The `_created` series double every counter for a timestamp nobody on a gateway looks at.
prometheus_client.disable_created_metrics()

# Buckets of the time from a message's arrival (MQTT callback, OPC-UA sample, CSV row) until
# its commit is fsync'd: the target is p99 <= 100 ms at the maximum rate.
ARRIVAL_TO_DURABLE_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# Buckets of one POST of a batch to Odoo, until its answer (up to odoo.timeout_s, 10 s).
SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mfg_edge_messages_received_total": ("Source messages received, by source kind", ("source",)),
    "mfg_edge_events_stored_total": ("Events committed to the local store", ()),
    "mfg_edge_events_duplicate_ingest_total": (
        "Source messages already known (redeliveries)",
        (),
    ),
    "mfg_edge_events_shed_total": (
        "Telemetry events dropped: source=store when the store was full, opcua_queue when the"
        " OPC-UA sample queue overflowed",
        ("source",),
    ),
    "mfg_edge_store_full_blocked_total": (
        "Transactional events held at the source, store full",
        (),
    ),
    "mfg_edge_ingest_dead_letters_total": (
        "Source messages that fit no rule (kept as dead letters)",
        (),
    ),
    "mfg_edge_events_sent_total": ("Events answered accepted or duplicate by the receiver", ()),
    "mfg_edge_events_redelivered_total": (
        "Events the receiver already had from an earlier delivery (a source's redelivery after a"
        " crash or reconnect): answered duplicate, not counted again",
        (),
    ),
    "mfg_edge_events_rejected_total": (
        "Events answered rejected (moved to the dead-letter table)",
        (),
    ),
    "mfg_edge_send_errors_total": ("Failed POSTs by reason", ("reason",)),
    "mfg_edge_auth_failures_total": ("POSTs answered 401/403", ()),
    "mfg_edge_heartbeats_sent_total": ("Heartbeats delivered", ()),
    "mfg_edge_failovers_total": (
        "Moves to the next Odoo node of odoo.url after the node in use did not answer",
        (),
    ),
}

GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mfg_edge_backlog_events": ("Events waiting in the store", ()),
    "mfg_edge_oldest_event_age_seconds": ("Age of the oldest waiting event", ()),
    "mfg_edge_dead_letters": ("Rows in the dead-letter table", ()),
    "mfg_edge_sender_blocked": (
        "1 while the sender is stopped by an authentication failure",
        (),
    ),
    "mfg_edge_sender_node": (
        "Position in odoo.url of the Odoo node the sender posts to (0: the first, preferred)",
        (),
    ),
    "mfg_edge_source_connected": ("1 when the source is connected", ("source",)),
    "mfg_edge_arrival_to_durable_seconds_max": (
        "Worst arrival-to-commit delay of the last commit",
        (),
    ),
    "mfg_edge_store_bytes": ("Size of the SQLite files on disk", ()),
    "mfg_edge_store_checkpoints": ("WAL checkpoints done since the start", ()),
    "mfg_edge_store_checkpoint_pause_seconds_max": (
        "Longest time commits waited for the second step of a WAL checkpoint",
        (),
    ),
    "mfg_edge_clock_synchronised": ("1 when the wall clock passes the synchronisation checks", ()),
}

HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "mfg_edge_arrival_to_durable_seconds": (
        "Time from a message's arrival (MQTT, OPC-UA, CSV) to its fsync'd commit in the store",
        ARRIVAL_TO_DURABLE_BUCKETS,
    ),
    "mfg_edge_send_duration_seconds": (
        "Time of one POST of a batch to Odoo until its answer (or the error)",
        SEND_BUCKETS,
    ),
}


class CountedHistogram:
    """A histogram that takes one value for `count` observations at once (a group commit
    stores up to a thousand messages that waited the same time), exposed through
    prometheus_client's collector interface; prometheus_client's Histogram takes one
    observation per call, a lock round per message."""

    def __init__(self, name: str, documentation: str, buckets: Iterable[float]):
        self.name = name
        self.documentation = documentation
        self.bounds = (*sorted(buckets), math.inf)
        self._counts = [0] * len(self.bounds)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float, count: int = 1) -> None:
        index = bisect.bisect_left(self.bounds, value)  # the first bound >= value (le)
        with self._lock:
            self._counts[index] += count
            self._sum += value * count

    def samples(self) -> tuple[list[tuple[str, int]], float]:
        """[(le, cumulative count), ...] ending with +Inf, and the sum."""
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, running = [], 0
        for bound, count in zip(self.bounds, counts, strict=True):
            running += count
            cumulative.append((prometheus_client.utils.floatToGoString(bound), running))
        return cumulative, total

    def collect(self):
        buckets, total = self.samples()
        yield HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=total)

    def describe(self):
        yield HistogramMetricFamily(self.name, self.documentation)


def _never_fails(name: str, read: Callable[[], float]) -> Callable[[], float]:
    def value() -> float:
        try:
            return float(read())
        except Exception:  # a failing gauge must not break the whole scrape
            _logger.exception("gauge %s failed", name)
            return math.nan

    return value


class Metrics:
    """The agent's counters, gauges and histograms in one prometheus_client registry.

    Every metric is declared above with its labels; a name that is not is a KeyError. Gauges
    may be callables evaluated at scrape time. Counters are floats: exact up to 2**53."""

    def __init__(self, process: bool = False):
        self.registry = CollectorRegistry()
        self._counters = {
            name: Counter(name, text, labels, registry=self.registry)
            for name, (text, labels) in COUNTERS.items()
        }
        self._gauges = {
            name: Gauge(name, text, labels, registry=self.registry)
            for name, (text, labels) in GAUGES.items()
        }
        self._histograms = {}
        for name, (text, buckets) in HISTOGRAMS.items():
            self._histograms[name] = CountedHistogram(name, text, buckets)
            self.registry.register(self._histograms[name])
        if process:
            # process_cpu_seconds_total, process_resident_memory_bytes, open fds, start time
            ProcessCollector(registry=self.registry)

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        counter = self._counters[name]
        (counter.labels(**labels) if labels else counter).inc(amount)

    def set(self, name: str, value: float | Callable[[], float], **labels: str) -> None:
        gauge = self._gauges[name]
        child = gauge.labels(**labels) if labels else gauge
        if callable(value):
            child.set_function(_never_fails(name, value))
        else:
            child.set(value)

    def observe(self, name: str, seconds: float, count: int = 1) -> None:
        self._histograms[name].observe(seconds, count)

    def value(self, name: str, **labels: str) -> float:
        """The current value of a counter or gauge series (0 when it has no value yet)."""
        found = self.registry.get_sample_value(name, labels)
        return 0 if found is None else found

    def histogram(self, name: str) -> CountedHistogram:
        return self._histograms[name]

    def render(self) -> str:
        return generate_latest(self.registry).decode()


class MetricsServer:
    """/metrics (Prometheus text) and /healthz (JSON) on a local port, in a daemon thread."""

    def __init__(self, metrics: Metrics, health: Callable[[], dict], host: str, port: int):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/metrics":
                    body = outer.metrics.render().encode()
                    self._answer(200, CONTENT_TYPE_LATEST, body)
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
