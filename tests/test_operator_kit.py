"""The operator kit (docs/operator/): the alert rules pass promtool and their unit tests, and
every metric the Grafana dashboard and the rules use is one Odoo or the edge agent exposes."""

import ast
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
OPERATOR = REPO / "docs/operator"
RULES = OPERATOR / "alerts.yml"
RULE_TESTS = OPERATOR / "alerts.test.yml"
DASHBOARD = OPERATOR / "grafana-dashboard.json"
SERVER_NAMES = REPO / "addons/mfg_integration_base/services/metric_names.py"
EDGE_METRICS = REPO / "edge_agent/mfg_edge/metrics.py"

# setup/test.sh puts promtool in run/tools/bin (taken out of Debian's prometheus package)
_LOCAL_PROMTOOL = REPO / "run/tools/bin/promtool"
PROMTOOL = str(_LOCAL_PROMTOOL) if _LOCAL_PROMTOOL.is_file() else shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (setup/test.sh puts it in run/tools/bin)",
)

# PromQL words that are not metric names: aggregation modifiers, set and vector-matching
# keywords (functions are recognised by the '(' that follows them)
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
# A process collector's metrics (prometheus_client's ProcessCollector on Linux)
PROCESS_METRICS = {
    "process_cpu_seconds_total", "process_virtual_memory_bytes",
    "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds",
    "process_max_fds",
}  # fmt: skip
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names_in(expr):
    """The metric names a PromQL expression (or a Grafana variable query) reads."""
    # label_values(metric, label): Grafana's variable query names a metric, then a label
    expr = re.sub(r"label_values\(\s*([^,()]+?)\s*,\s*\w+\s*\)", r"\1", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges and subqueries' durations
    # the label lists of by / without / on / ignoring / group_left / group_right
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1 ", expr)
    names = set()
    for match in IDENTIFIER.finditer(expr):
        word = match.group()
        following = expr[match.end() :].lstrip()
        preceding = expr[: match.start()]
        # a function, or an aggregation with its grouping first: sum by (system) (...)
        if following.startswith("(") or re.match(r"(by|without)\b", following):
            continue
        if word.lower() in KEYWORDS:
            continue
        if re.search(r"[0-9.]$", preceding) or preceding.endswith("$"):
            continue  # a duration's unit (5m) or a Grafana variable ($__rate_interval)
        names.add(word)
    return names


def server_metric_names():
    """What GET /mfg/v1/metrics can answer (services/metric_names.py imports nothing)."""
    spec = importlib.util.spec_from_file_location("metric_names", SERVER_NAMES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.metric_names()


def edge_metric_names():
    """What the edge agent's /metrics can answer: the COUNTERS, GAUGES and HISTOGRAMS its
    metrics module declares (read without importing it: prometheus_client lives in the edge
    virtualenv), and the process metrics when it registers a ProcessCollector."""
    tree = ast.parse(EDGE_METRICS.read_text())
    declared = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(node.value, ast.Dict):
                    declared[target.id] = [key.value for key in node.value.keys]
    names = set(declared["COUNTERS"]) | set(declared["GAUGES"])
    for histogram in declared["HISTOGRAMS"]:
        names |= {histogram + suffix for suffix in ("_bucket", "_sum", "_count")}
    if "ProcessCollector(" in EDGE_METRICS.read_text():
        names |= PROCESS_METRICS
    return names


def dashboard_queries():
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []

    def walk(panels):
        for panel in panels:
            queries.extend((panel["title"], t["expr"]) for t in panel.get("targets", []))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]
        queries.append((variable["name"], query["query"] if isinstance(query, dict) else query))
    return queries


def rule_expressions():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"]]


def test_metric_names_are_extracted_from_promql():
    expr = (
        'histogram_quantile(0.99, sum by (le, instance) (rate(mfg_edge_x_bucket{job="a"}[5m])))'
        " > on (contract) group_left mfg_sla_seconds offset 1h"
        ' and time() - max by (system) (mfg_seen{kind="edge"}[$__rate_interval]) > 5e3'
    )
    assert metric_names_in(expr) == {"mfg_edge_x_bucket", "mfg_sla_seconds", "mfg_seen"}
    assert metric_names_in("label_values(mfg_integration_circuit_state, system)") == {
        "mfg_integration_circuit_state"
    }


def test_edge_names_are_read_from_its_declarations():
    names = edge_metric_names()
    assert "mfg_edge_send_duration_seconds_bucket" in names
    assert "mfg_edge_backlog_events" in names
    assert "mfg_edge_events_sent_total" in names
    assert "process_resident_memory_bytes" in names


def test_every_metric_of_the_dashboard_and_the_rules_is_exposed():
    exposed = server_metric_names() | edge_metric_names()
    used = {}
    for where, expr in [*dashboard_queries(), *rule_expressions()]:
        for name in metric_names_in(expr):
            used.setdefault(name, where)
    unknown = {name: where for name, where in used.items() if name not in exposed}
    assert not unknown, f"metrics neither Odoo nor the edge agent expose: {unknown}"
    # the kit covers both sides, the histograms and the outbound figures
    for name in (
        "mfg_edge_send_duration_seconds_bucket",
        "mfg_edge_arrival_to_durable_seconds_bucket",
        "mfg_edge_dead_letters",
        "mfg_integration_outbound_events_delivered_total",
        "mfg_integration_outbound_oldest_queued_age_seconds",
        "mfg_integration_circuit_state",
        "mfg_integration_oldest_waiting_age_seconds",
    ):
        assert name in used, name


def test_every_rule_waits_and_explains_itself():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    names = {rule["alert"] for rule in rules}
    for expected in (
        "MfgInboundBacklogOld",
        "MfgInboundBacklogOverSla",
        "MfgInboundLatencyOverSla",
        "MfgCircuitOpen",
        "MfgEdgeAgentSilent",
        "MfgEdgeDeadLettersGrowing",
        "MfgOutboundDeadGrowing",
        "MfgOutboundLag",
    ):
        assert expected in names
    for rule in rules:
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


@needs_promtool
def test_promtool_checks_the_rules():
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_of_the_rules():
    """Scripted series: each alert fires when it should, not before, with its words."""
    result = subprocess.run(
        [PROMTOOL, "test", "rules", RULE_TESTS.name],
        cwd=OPERATOR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
