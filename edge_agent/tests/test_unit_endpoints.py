"""Several Odoo nodes in odoo.url: which node the sender uses, when it moves on and when it
goes back to the first (a controlled clock), and what check-config says about them."""

from __future__ import annotations

import json

import pytest
import yaml
from test_unit_config import GOOD

from mfg_edge.cli import main
from mfg_edge.config import ConfigError, parse_config
from mfg_edge.endpoints import Endpoints


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


A, B, C = "https://a.example", "https://b.example", "https://c.example"


def test_one_url_never_fails_over():
    nodes = Endpoints(A + "/")
    assert nodes.url == A
    assert nodes.failed() is False, "back off: there is no other node"
    assert (nodes.active, nodes.failovers) == (0, 0)


def test_next_node_at_once_then_back_off_after_a_whole_round():
    clock = Clock()
    nodes = Endpoints([A, B, C], failback_s=60, monotonic=clock)
    assert nodes.failed() is True and nodes.url == B
    assert nodes.failed() is True and nodes.url == C
    assert nodes.failed() is False, "every node failed in a row: back off"
    assert nodes.url == A and nodes.failovers == 3
    # after the back-off a new round starts
    assert nodes.failed() is True and nodes.url == B
    nodes.answered()
    assert nodes.failed() is True and nodes.url == C, "B answered: a new round"


def test_back_to_the_first_node_after_failback_s():
    clock = Clock()
    nodes = Endpoints([A, B], failback_s=60, monotonic=clock)
    nodes.failed()
    nodes.answered()
    assert nodes.url == B
    clock.now += 59
    assert nodes.fail_back_due() is False and nodes.url == B
    clock.now += 1
    assert nodes.fail_back_due() is True and nodes.url == A
    # still down: on to B at once, and the next try of A is failback_s later
    assert nodes.failed() is True and nodes.url == B
    nodes.answered()
    clock.now += 30
    assert nodes.fail_back_due() is False
    clock.now += 30
    assert nodes.fail_back_due() is True
    nodes.answered()
    assert nodes.url == A
    clock.now += 3600
    assert nodes.fail_back_due() is False, "on the first node: nothing to fail back to"


def test_a_list_of_urls_is_validated_like_one():
    config = json.loads(json.dumps(GOOD))
    config["odoo"]["url"] = [A, B]
    parsed = parse_config(config)
    assert parsed.odoo_urls == [A, B] and parsed.odoo["failback_s"] == 60
    assert parse_config(GOOD).odoo_urls == [GOOD["odoo"]["url"]]
    for bad, where in (
        ([A, "http://10.0.0.5:8069"], "/odoo/url/1: plain http"),
        ([A, A], "/odoo/url"),
        ([], "/odoo/url"),
        (["ftp://x"], "/odoo/url"),
    ):
        config["odoo"]["url"] = bad
        with pytest.raises(ConfigError) as caught:
            parse_config(config)
        assert any(error.startswith(where) for error in caught.value.errors), caught.value.errors
    config["odoo"]["url"] = ["http://127.0.0.1:8069", "http://localhost:8070"]
    assert parse_config(config).odoo_urls == ["http://127.0.0.1:8069", "http://localhost:8070"]


def test_check_config_lists_the_nodes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MFG_EDGE_API_KEY", "very-secret-key")
    config = json.loads(json.dumps(GOOD))
    config["odoo"]["url"] = [A, B]
    config["odoo"]["failback_s"] = 30
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["check-config", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"Odoo nodes: {A}, {B}: the first is preferred" in out
    assert "tried again every 30 s" in out
