"""The Prometheus metric families GET /mfg/v1/metrics can answer: name, type and help.

Plain Python so that the operator kit's check (tests/test_operator_kit.py: every metric the
Grafana dashboard and the alert rules use exists) reads the same list the server renders.
"""

# (name, type, help) in the order the exposition gives them
FAMILIES = (
    ("mfg_integration_events_received_total", "counter", "Events accepted by the API."),
    ("mfg_integration_events_done_total", "counter", "Events applied in Odoo."),
    (
        "mfg_integration_events_failed_total",
        "counter",
        "Events that became an exception (business error or retries exhausted).",
    ),
    (
        "mfg_integration_events_duplicates_total",
        "counter",
        "Resends of events already received (answered 'duplicate').",
    ),
    (
        "mfg_integration_events_rejected_total",
        "counter",
        "Events refused by the API (malformed, unknown or forbidden contract, invalid).",
    ),
    ("mfg_integration_backlog_events", "gauge", "Events received, not yet applied."),
    (
        "mfg_integration_oldest_waiting_age_seconds",
        "gauge",
        "Age of the oldest event not yet applied.",
    ),
    (
        "mfg_integration_event_latency_seconds",
        "summary",
        "From occurrence at the source to applied in Odoo; quantiles over the events "
        "applied in the current and the previous clock hour (estimated from hourly "
        "histograms), sum and count since the start.",
    ),
    (
        "mfg_integration_outbound_events_delivered_total",
        "counter",
        "Outbound events the receiving system accepted.",
    ),
    (
        "mfg_integration_outbound_events_failed_total",
        "counter",
        "Outbound events the receiving system refused (business error, an exception to work).",
    ),
    (
        "mfg_integration_outbound_events_dead_total",
        "counter",
        "Outbound events given up after their last delivery attempt (an exception to work).",
    ),
    (
        "mfg_integration_outbound_delivery_retries_total",
        "counter",
        "Failed delivery attempts scheduled to be tried again.",
    ),
    (
        "mfg_integration_outbound_delivery_latency_seconds",
        "summary",
        "From emitted in Odoo to accepted by the receiver; quantiles over the events "
        "delivered in the current and the previous clock hour (estimated from hourly "
        "histograms), sum and count since the start.",
    ),
    (
        "mfg_integration_outbound_backlog_events",
        "gauge",
        "Outbound events waiting to be delivered (queued, retries included).",
    ),
    (
        "mfg_integration_outbound_oldest_queued_age_seconds",
        "gauge",
        "Age of the oldest outbound event not yet delivered: the delivery lag.",
    ),
    (
        "mfg_integration_contract_sla_seconds",
        "gauge",
        "Time within which the events of an active (or deprecated) inbound contract should "
        "be applied after they occurred (its SLA).",
    ),
    (
        "mfg_integration_open_exceptions",
        "gauge",
        "Exceptions waiting for a person, by category (business or technical).",
    ),
    (
        "mfg_integration_circuit_state",
        "gauge",
        "Outbound circuit breaker: 1 for the system's current state.",
    ),
    (
        "mfg_integration_last_seen_timestamp_seconds",
        "gauge",
        "When the system last called the API (Unix time), with the system's kind (edge, "
        "mes, ...).",
    ),
    (
        "mfg_integration_system_info",
        "gauge",
        "1 per active system, with its company (plant), environment and kind: join it on "
        "the system label to group any family by company.",
    ),
)
HELP = {name: help_text for name, _kind, help_text in FAMILIES}
KIND = {name: kind for name, kind, _help in FAMILIES}
# the sample names of a summary besides its quantiles
SUMMARY_SUFFIXES = ("_sum", "_count")


def metric_names():
    """Every sample name the exposition can hold (a summary's ``_sum`` and ``_count`` too)."""
    names = set()
    for name, kind, _help in FAMILIES:
        names.add(name)
        if kind == "summary":
            names.update(name + suffix for suffix in SUMMARY_SUFFIXES)
    return names
