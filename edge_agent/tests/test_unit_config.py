"""Configuration: schema errors with their paths, secrets, defaults, the reusable rule schema."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from mfg_edge.cli import main
from mfg_edge.config import (
    ConfigError,
    api_key,
    load_config,
    load_schema,
    parse_config,
    rule_validation_errors,
)

GOOD = {
    "agent": {"source": "plant1/gw-01", "data_dir": "/var/lib/mfg-edge"},
    "odoo": {"url": "https://odoo.example.com"},
    "mqtt": {"host": "127.0.0.1"},
    "rules": [
        {
            "name": "done",
            "source": "mqtt",
            "topic": "plant1/+/mes/completed",
            "type": "mes.production.completed",
            "version": "1.1",
            "subject": "{payload.wo}",
            "data": {
                "production_ref": "payload.wo",
                "qty": {"selector": "payload.qty", "as": "number"},
            },
        }
    ],
}


def test_defaults_are_applied():
    config = parse_config(GOOD)
    assert config.store["commit_max_messages"] == 19
    assert config.odoo["verify_tls"] is True
    assert config.agent["heartbeat_interval_s"] == 60
    assert config.metrics["host"] == "127.0.0.1"


def test_every_error_is_reported_with_its_path():
    bad = json.loads(json.dumps(GOOD))
    bad["agent"]["source"] = "has spaces"
    bad["odoo"]["batch_size"] = 0
    bad["rules"][0]["type"] = "NotAType"
    del bad["rules"][0]["topic"]
    bad["rules"][0]["data"]["qty"] = {"selector": "payload.qty", "as": "decimal"}
    with pytest.raises(ConfigError) as caught:
        parse_config(bad)
    text = "\n".join(caught.value.errors)
    assert "/agent/source:" in text
    assert "/odoo/batch_size:" in text
    assert "/rules/0/type:" in text
    assert "/rules/0: 'topic' is a required property" in text
    assert "/rules/0/data/qty/as:" in text
    assert len(caught.value.errors) == 5


def test_semantic_errors_duplicate_rule_and_missing_source_section():
    bad = json.loads(json.dumps(GOOD))
    bad["rules"].append(dict(bad["rules"][0]))
    del bad["mqtt"]
    with pytest.raises(ConfigError) as caught:
        parse_config(bad)
    assert any("/rules/1/name: duplicate" in e for e in caught.value.errors)
    assert any("/rules/0/source:" in e for e in caught.value.errors)


def test_plain_http_only_to_loopback():
    bad = json.loads(json.dumps(GOOD))
    bad["odoo"]["url"] = "http://odoo.example.com"
    with pytest.raises(ConfigError, match="plain http"):
        parse_config(bad)


def test_key_file_must_not_be_group_or_world_readable(tmp_path, monkeypatch):
    monkeypatch.delenv("MFG_EDGE_API_KEY", raising=False)
    key = tmp_path / "key"
    key.write_text("s3cret\n")
    os.chmod(key, 0o644)
    document = json.loads(json.dumps(GOOD))
    document["odoo"]["api_key_file"] = str(key)
    config = parse_config(document)
    with pytest.raises(ConfigError, match="chmod 600"):
        api_key(config)
    os.chmod(key, 0o600)
    assert api_key(config) == "s3cret"
    monkeypatch.setenv("MFG_EDGE_API_KEY", "from-env")
    assert api_key(config) == "from-env"


def test_rule_schema_is_reusable_alone():
    assert rule_validation_errors(GOOD["rules"]) == []
    errors = rule_validation_errors([{"name": "x", "source": "csv"}])
    assert any("'folder' is a required property" in e for e in errors)
    assert "rule" in load_schema()["$defs"]


def test_check_config_cli_prints_errors_and_never_the_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MFG_EDGE_API_KEY", "very-secret-key")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    assert main(["check-config", "-c", str(path)]) == 0
    out = capsys.readouterr()
    assert "OK" in out.out and "very-secret-key" not in out.out + out.err
    bad = json.loads(json.dumps(GOOD))
    bad["odoo"]["timeout_s"] = -1
    path.write_text(yaml.safe_dump(bad))
    assert main(["check-config", "-c", str(path)]) == 1
    assert "/odoo/timeout_s:" in capsys.readouterr().err


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("agent: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_shipped_demo_config_is_valid():
    demo = os.path.join(os.path.dirname(__file__), "..", "examples", "demo.yaml")
    config = load_config(demo)
    kinds = {rule["source"] for rule in config.rules}
    assert kinds == {"mqtt", "opcua", "csv"}


def test_default_store_limits_hold_the_documented_outage():
    """The READMEs size a gateway for a 72-hour Odoo outage at 50 events/s: the defaults must
    hold it, with the byte budget alone sizing the store (no event-count cap by default)."""
    from mfg_edge.sizing import (
        DOCUMENTED_OUTAGE_H,
        DOCUMENTED_RATE_PER_S,
        TYPICAL_EVENT_BYTES,
        coverage,
    )

    store = parse_config(GOOD).store
    assert store["max_events"] is None
    covered = coverage(
        store["max_bytes"], store["max_events"], DOCUMENTED_RATE_PER_S, TYPICAL_EVENT_BYTES
    )
    assert covered.limited_by == "max_bytes"
    assert covered.hours >= DOCUMENTED_OUTAGE_H, covered
    capped = coverage(store["max_bytes"], 2_000_000, DOCUMENTED_RATE_PER_S, TYPICAL_EVENT_BYTES)
    assert (capped.limited_by, round(capped.hours, 1)) == ("max_events", 11.1)


def _sizing_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("store sizing"))


def test_check_config_reports_the_hours_of_outage_the_store_holds(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MFG_EDGE_API_KEY", "k")
    document = json.loads(json.dumps(GOOD))
    document["agent"]["data_dir"] = str(tmp_path / "data")
    document["store"] = {"max_bytes": 1_300_000_000}  # 2,000,000 events of 650 bytes
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["check-config", "-c", str(path), "--rate", "50"]) == 0
    out = capsys.readouterr().out
    assert "2,000,000 events" in _sizing_line(out) and "11.1 h" in _sizing_line(out)
    assert "warning: less than 72 h" in out
    assert main(["check-config", "-c", str(path), "--rate", "5", "--event-bytes", "1300"]) == 0
    out = capsys.readouterr().out
    assert "1,000,000 events" in _sizing_line(out) and "55.6 h" in _sizing_line(out)
    document["store"] = {"max_bytes": 10_000_000_000, "max_events": 100_000}
    path.write_text(yaml.safe_dump(document))
    assert main(["check-config", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "max_events is the limit" in out and "0.6 h" in out
    assert "raise store.max_bytes and store.max_events" in out


def test_check_config_measures_bytes_per_event_in_the_store(tmp_path, capsys, monkeypatch):
    from mfg_edge.event import Event
    from mfg_edge.store import ROW_OVERHEAD_BYTES, Store

    monkeypatch.setenv("MFG_EDGE_API_KEY", "k")
    document = json.loads(json.dumps(GOOD))
    document["agent"]["data_dir"] = str(tmp_path / "data")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(document))
    store = Store(tmp_path / "data" / "events.sqlite3")
    body = {"x": "y" * 200}
    store.insert(
        [Event(f"id-{n}", "a.b.c", "s", "transactional", body, 0.0, 0.0) for n in range(1000)]
    )
    per_event = store.bytes / store.count
    store.close()
    assert per_event == len('{"x":"' + "y" * 200 + '"}') + ROW_OVERHEAD_BYTES
    assert main(["check-config", "-c", str(path)]) == 0
    line = _sizing_line(capsys.readouterr().out)
    assert "measured in this store" in line and f"{per_event:.0f} bytes per event" in line


def test_retry_after_max_defaults_to_five_minutes_and_must_be_finite_and_positive():
    assert parse_config(json.loads(json.dumps(GOOD))).odoo["retry_after_max_s"] == 300
    for bad in (float("inf"), 0, -1, 86401, "300"):
        document = json.loads(json.dumps(GOOD))
        document["odoo"]["retry_after_max_s"] = bad
        with pytest.raises(ConfigError) as raised:
            parse_config(document)
        assert any(e.startswith("/odoo/retry_after_max_s:") for e in raised.value.errors), bad
    document = json.loads(json.dumps(GOOD))
    document["odoo"]["retry_after_max_s"] = 30
    assert parse_config(document).odoo["retry_after_max_s"] == 30
