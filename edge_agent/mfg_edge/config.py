"""Load and validate the agent's YAML configuration against the shipped JSON Schema."""

from __future__ import annotations

import copy
import json
import os
import re
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator


class ConfigError(Exception):
    """The configuration cannot be used; `errors` lists every problem as 'path: message'."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def load_schema() -> dict[str, Any]:
    text = resources.files("mfg_edge").joinpath("schemas/config.schema.json").read_text("utf-8")
    return json.loads(text)


def _path_of(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    return "/" + "/".join(parts) if parts else "/"


def validation_errors(document: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Every schema error, sorted by path, each as '<json pointer>: <message>'."""
    validator = Draft202012Validator(schema or load_schema())
    found = []
    for error in validator.iter_errors(document):
        # oneOf failures hide the useful cause; report the deepest sub-error instead.
        leaf = error
        while leaf.context:
            leaf = max(leaf.context, key=lambda e: len(e.absolute_path))
        found.append((_path_of(leaf if leaf.absolute_path else error), leaf.message))
    return [f"{path}: {message}" for path, message in sorted(set(found))]


def rule_validation_errors(rules: Any) -> list[str]:
    """Validate a rules list alone (what Odoo's /mfg/v1/edge/config answers) with $defs/rule."""
    schema = load_schema()
    rules_schema = {
        "$schema": schema["$schema"],
        "$defs": schema["$defs"],
        "type": "array",
        "items": {"$ref": "#/$defs/rule"},
    }
    return validation_errors(rules, rules_schema)


def _apply_defaults(node: Any, schema: dict[str, Any], root: dict[str, Any]) -> None:
    """Fill in `default` values of object properties (jsonschema validates but never fills)."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].split("/")[-1]]
    if not isinstance(node, dict):
        return
    for key, declared in schema.get("properties", {}).items():
        sub = root["$defs"][declared["$ref"].split("/")[-1]] if "$ref" in declared else declared
        if key not in node and "default" in sub:
            node[key] = copy.deepcopy(sub["default"])
        # Sections without required keys (store, metrics, csv, clock) get their defaults;
        # sections with required keys (mqtt, opcua) exist only when configured.
        if key not in node and sub.get("type") == "object" and not sub.get("required"):
            node[key] = {}
            _apply_defaults(node[key], sub, root)
        elif key in node:
            if sub.get("type") == "object":
                _apply_defaults(node[key], sub, root)
            elif sub.get("type") == "array" and isinstance(node[key], list) and "items" in sub:
                for item in node[key]:
                    _apply_defaults(item, sub["items"], root)


@dataclass
class Config:
    """A validated configuration with defaults applied; `raw` is the document as a dict."""

    raw: dict[str, Any]
    path: Path | None = None

    @property
    def agent(self) -> dict[str, Any]:
        return self.raw["agent"]

    @property
    def odoo(self) -> dict[str, Any]:
        return self.raw["odoo"]

    @property
    def odoo_urls(self) -> list[str]:
        """odoo.url as a list (one node or several), the preferred first."""
        url = self.odoo["url"]
        return [url] if isinstance(url, str) else list(url)

    @property
    def store(self) -> dict[str, Any]:
        return self.raw["store"]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.raw["metrics"]

    @property
    def mqtt(self) -> dict[str, Any] | None:
        return self.raw.get("mqtt")

    @property
    def opcua(self) -> dict[str, Any] | None:
        return self.raw.get("opcua")

    @property
    def csv(self) -> dict[str, Any]:
        return self.raw["csv"]

    @property
    def rules(self) -> list[dict[str, Any]]:
        return self.raw.get("rules", [])

    @property
    def source(self) -> str:
        return self.agent["source"]

    @property
    def data_dir(self) -> Path:
        return Path(self.agent["data_dir"])

    @property
    def store_path(self) -> Path:
        return self.data_dir / "events.sqlite3"

    @property
    def rules_cache_path(self) -> Path:
        return self.data_dir / "rules-cache.json"


def parse_config(document: Any, path: Path | None = None) -> Config:
    errors = validation_errors(document)
    if errors:
        raise ConfigError(errors)
    document = copy.deepcopy(document)
    schema = load_schema()
    _apply_defaults(document, schema, schema)
    errors = semantic_errors(document)
    if errors:
        raise ConfigError(errors)
    return Config(raw=document, path=path)


def semantic_errors(document: dict[str, Any]) -> list[str]:
    """Checks a JSON Schema cannot express: unique rule names, sources configured for rules."""
    errors = []
    seen: set[str] = set()
    for index, rule in enumerate(document.get("rules", [])):
        if rule["name"] in seen:
            errors.append(f"/rules/{index}/name: duplicate rule name {rule['name']!r}")
        seen.add(rule["name"])
        if rule["source"] in ("mqtt", "opcua") and rule["source"] not in document:
            errors.append(
                f"/rules/{index}/source: rule uses {rule['source']!r} but there is no "
                f"top-level {rule['source']!r} section"
            )
    mqtt = document.get("mqtt") or {}
    if mqtt.get("shards"):
        from .topics import assign_shards

        topics = sorted({r["topic"] for r in document.get("rules", []) if r["source"] == "mqtt"})
        _, problems = assign_shards([shard["topics"] for shard in mqtt["shards"]], topics)
        errors.extend(f"/mqtt/shards: {problem}" for problem in problems)
    urls = document.get("odoo", {}).get("url", [])
    for index, url in enumerate([urls] if isinstance(urls, str) else urls):
        if url.startswith("http://") and not _is_loopback(url):
            where = "/odoo/url" if isinstance(urls, str) else f"/odoo/url/{index}"
            errors.append(f"{where}: plain http is only allowed to 127.0.0.1/localhost; use https")
    return errors


def _is_loopback(url: str) -> bool:
    host = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    return host in ("127.0.0.1", "localhost", "[::1]")


_ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


def expand_environment(text: str) -> str:
    """${NAME} / ${NAME:-default} in the YAML, so one file serves several hosts and ports.
    Secrets do not go through here: they are read by name (api_key_env) and never echoed."""

    def replace(match: re.Match) -> str:
        value = os.environ.get(match.group(1))
        if value is None or value == "":
            if match.group(2) is None:
                raise ConfigError([f"/: environment variable {match.group(1)} is not set"])
            return match.group(2)
        return value

    return _ENV_REFERENCE.sub(replace, text)


def load_config(path: str | os.PathLike) -> Config:
    path = Path(path)
    try:
        text = expand_environment(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError([f"/: cannot read {path}: {exc.strerror}"]) from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"/: {path} is not valid YAML: {exc}"]) from exc
    if document is None:
        raise ConfigError([f"/: {path} is empty"])
    return parse_config(document, path)


def read_secret_file(path: str | os.PathLike) -> str:
    """Read a key file, refusing one that other users could read (the key grants API access)."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError([f"/odoo/api_key_file: cannot read {path}: {exc.strerror}"]) from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            [
                f"/odoo/api_key_file: {path} is readable by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
            ]
        )
    value = path.read_text("utf-8").strip()
    if not value:
        raise ConfigError([f"/odoo/api_key_file: {path} is empty"])
    return value


def api_key(config: Config) -> str:
    """The Bearer key: the environment variable wins, then the key file. Never logged."""
    env_name = config.odoo["api_key_env"]
    if os.environ.get(env_name):
        return os.environ[env_name]
    if config.odoo.get("api_key_file"):
        return read_secret_file(config.odoo["api_key_file"])
    raise ConfigError(
        [f"/odoo: no API key: set the environment variable {env_name} or odoo.api_key_file"]
    )
