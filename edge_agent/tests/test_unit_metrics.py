"""Metrics through prometheus_client: exact counters, histograms, process metrics, the names the
README documents, and the HTTP endpoint."""

from __future__ import annotations

import re
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mfg_edge.metrics import COUNTERS, GAUGES, HISTOGRAMS, Metrics, MetricsServer

README = Path(__file__).resolve().parents[1] / "README.md"


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_counters_are_exact_above_a_million():
    metrics = Metrics()
    metrics.inc("mfg_edge_events_sent_total", 12_345_677)
    metrics.inc("mfg_edge_events_sent_total")
    metrics.inc("mfg_edge_messages_received_total", 2**53 - 1, source="mqtt")
    text = metrics.render()
    samples = _samples(text)
    assert samples[("mfg_edge_events_sent_total", ())] == 12_345_678
    assert int(samples[("mfg_edge_messages_received_total", (("source", "mqtt"),))]) == 2**53 - 1
    assert "1.23457e+07" not in text  # what the hand-written `{:g}` printed


def test_histogram_counts_a_group_of_messages_with_one_call():
    metrics = Metrics()
    metrics.observe("mfg_edge_arrival_to_durable_seconds", 0.003, 19)
    metrics.observe("mfg_edge_arrival_to_durable_seconds", 0.2)
    metrics.observe("mfg_edge_arrival_to_durable_seconds", 0.005)  # on a bound: le is inclusive
    metrics.observe("mfg_edge_arrival_to_durable_seconds", 60.0)
    samples = _samples(metrics.render())

    def bucket(le: str) -> float:
        return samples[("mfg_edge_arrival_to_durable_seconds_bucket", (("le", le),))]

    assert bucket("0.001") == 0
    assert bucket("0.005") == 20
    assert bucket("0.1") == 20
    assert bucket("0.25") == 21
    assert bucket("10.0") == 21
    assert bucket("+Inf") == 22
    assert samples[("mfg_edge_arrival_to_durable_seconds_count", ())] == 22
    assert samples[("mfg_edge_arrival_to_durable_seconds_sum", ())] == pytest.approx(
        0.003 * 19 + 0.2 + 0.005 + 60.0
    )


def test_gauges_read_at_scrape_time_and_a_failing_one_does_not_break_the_scrape():
    metrics = Metrics()
    backlog = [5]
    metrics.set("mfg_edge_backlog_events", lambda: backlog[0])
    metrics.set("mfg_edge_dead_letters", lambda: 1 / 0)
    metrics.set("mfg_edge_source_connected", 1, source="mqtt")
    backlog[0] = 7
    samples = _samples(metrics.render())
    assert samples[("mfg_edge_backlog_events", ())] == 7
    assert samples[("mfg_edge_source_connected", (("source", "mqtt"),))] == 1
    assert samples[("mfg_edge_dead_letters", ())] != samples[("mfg_edge_dead_letters", ())]  # NaN


def test_an_undeclared_metric_name_is_refused():
    with pytest.raises(KeyError):
        Metrics().inc("mfg_edge_events_sent")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process metrics read /proc")
def test_process_metrics_are_exposed_by_the_agents_registry():
    samples = _samples(Metrics(process=True).render())
    assert samples[("process_resident_memory_bytes", ())] > 1_000_000
    assert ("process_cpu_seconds_total", ()) in samples
    assert not any(name.startswith("process_") for name, _ in _samples(Metrics().render()))


def test_every_metric_the_readme_lists_is_declared_and_every_declared_one_is_listed():
    text = README.read_text("utf-8")
    section = text[text.index("## Observability") :]
    start = section.index("- counters:")
    lists = section[start : section.index("\n\n", start)]
    # The names in the three lists: `name` or `name{label}`, at the start of an item.
    names = re.findall(r"(?:: |, |\n  )`([a-z_]+)(?:\{[a-z]+\})?`", lists)
    listed = {"mfg_edge_" + name for name in names}
    declared = set(COUNTERS) | set(GAUGES) | set(HISTOGRAMS)
    assert declared == listed, (sorted(declared - listed), sorted(listed - declared))


def test_metrics_endpoint_serves_the_registry():
    metrics = Metrics()
    metrics.inc("mfg_edge_events_stored_total", 3)
    server = MetricsServer(metrics, lambda: {"ok": True}, "127.0.0.1", 0)
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as answer:
            content_type = answer.headers["Content-Type"]
            body = answer.read().decode()
    finally:
        server.stop()
    assert content_type.startswith("text/plain")
    assert _samples(body)[("mfg_edge_events_stored_total", ())] == 3
