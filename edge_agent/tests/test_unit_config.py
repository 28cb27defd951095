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
