"""Rules pulled from Odoo (GET /mfg/v1/edge/config), cached on disk, with fallbacks."""

from __future__ import annotations

import json
import os
import stat

from edge_harness import mes_rules

from mfg_edge.config import parse_config
from mfg_edge.rules_sync import resolve_rules


def _config(tmp_path, url):
    return parse_config(
        {
            "agent": {"source": "plant1/gw-t", "data_dir": str(tmp_path / "data")},
            "odoo": {"url": url, "pull_rules": True, "timeout_s": 2},
            "mqtt": {"host": "127.0.0.1"},
            "rules": mes_rules("plant1/local/#"),
        }
    )


def test_pull_cache_and_fallbacks(tmp_path, receiver):
    remote = mes_rules("plant1/from-odoo/#")
    receiver.rules_document = {"system": "plant1-gw", "etag": "v1", "rules": remote}
    config = _config(tmp_path, receiver.url)

    rules, origin = resolve_rules(config, "test-key")
    assert origin == "odoo" and rules == remote
    cache = config.rules_cache_path
    assert json.loads(cache.read_text())["etag"] == "v1"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600

    rules, origin = resolve_rules(config, "test-key")  # If-None-Match -> 304 -> the cache
    assert origin == "odoo" and rules == remote

    # Odoo sends a broken rule: it is refused, the last good rules stay.
    receiver.rules_document = {"system": "plant1-gw", "etag": "v2", "rules": [{"name": "x"}]}
    rules, origin = resolve_rules(config, "test-key")
    assert origin == "cache" and rules == remote

    receiver.stop()  # Odoo unreachable
    rules, origin = resolve_rules(config, "test-key")
    assert origin == "cache" and rules == remote

    cache.unlink()  # and no cache either: the local file's rules
    rules, origin = resolve_rules(config, "test-key")
    assert origin == "local" and rules[0]["topic"] == "plant1/local/#"


def test_wrong_key_keeps_local_rules(tmp_path, receiver):
    receiver.rules_document = {"system": "s", "etag": "v1", "rules": mes_rules("plant1/x/#")}
    config = _config(tmp_path, receiver.url)
    rules, origin = resolve_rules(config, "wrong-key")
    assert origin == "local" and rules[0]["topic"] == "plant1/local/#"
