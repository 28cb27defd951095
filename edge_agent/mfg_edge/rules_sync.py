"""Where the active rules come from: Odoo (GET /mfg/v1/edge/config), its disk cache, or the YAML.

Admins edit rules as Odoo records; the agent pulls them with its Bearer key and caches the last
good answer, so a gateway that reboots while Odoo is unreachable still knows what to collect.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import requests

from .config import Config, rule_validation_errors, semantic_errors

_logger = logging.getLogger(__name__)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rules-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def read_cache(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or rule_validation_errors(document.get("rules")):
        _logger.warning("ignoring the rules cache %s: it does not validate", path)
        return None
    return document


def _check_rules(config: Config, rules: Any) -> list[str]:
    errors = rule_validation_errors(rules)
    if not errors:
        errors = semantic_errors({**config.raw, "rules": rules})
    return errors


def pull_rules(
    config: Config, api_key: str, session: requests.Session | None = None
) -> dict | None:
    """Ask Odoo for the rules (each node of odoo.url in turn until one answers); returns the
    answer document, or None when it cannot be used."""
    session = session or requests.Session()
    cached = read_cache(config.rules_cache_path)
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    if cached and cached.get("etag"):
        headers["If-None-Match"] = cached["etag"]
    verify: bool | str = config.odoo.get("ca_bundle") or config.odoo.get("verify_tls", True)
    response = None
    for base in config.odoo_urls:
        url = base.rstrip("/") + "/mfg/v1/edge/config"
        try:
            response = session.get(
                url, headers=headers, timeout=config.odoo["timeout_s"], verify=verify
            )
        except requests.RequestException as exc:
            _logger.warning("cannot reach %s for rules (%s)", url, type(exc).__name__)
            continue
        if response.status_code not in (502, 503, 504):
            break
    if response is None:
        return None
    if response.status_code == 304 and cached:
        return cached
    if response.status_code != 200:
        _logger.warning(
            "rules pull answered HTTP %d; keeping the previous rules", response.status_code
        )
        return None
    try:
        document = response.json()
    except ValueError:
        _logger.error("rules pull: the answer is not JSON; keeping the previous rules")
        return None
    if not isinstance(document, dict):
        _logger.error("rules pull: the answer is not an object; keeping the previous rules")
        return None
    errors = _check_rules(config, document.get("rules"))
    if errors:
        for error in errors:
            _logger.error("rules from Odoo are invalid, not used: /rules%s", error)
        return None
    _write_atomically(config.rules_cache_path, json.dumps(document, indent=1))
    return document


def resolve_rules(
    config: Config, api_key: str | None, *, allow_network: bool = True
) -> tuple[list[dict], str]:
    """(rules, origin) where origin is 'odoo', 'cache' or 'local'."""
    if config.odoo.get("pull_rules"):
        if allow_network and api_key:
            document = pull_rules(config, api_key)
            if document is not None:
                return document["rules"], "odoo"
        cached = read_cache(config.rules_cache_path)
        if cached is not None and not _check_rules(config, cached["rules"]):
            _logger.warning("using cached rules (etag %s): Odoo unreachable", cached.get("etag"))
            return cached["rules"], "cache"
        _logger.warning("no rules from Odoo and no cache: using the rules of the local file")
    return config.rules, "local"
