"""Packaging: the gateway constraints pin everything the agent installs; orjson is optional."""

from __future__ import annotations

import builtins
import importlib
import json
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

EDGE = Path(__file__).resolve().parents[1]
CONSTRAINTS = EDGE / "constraints.txt"
RUNTIME_EXTRAS = ("fast",)  # what a gateway installs; `test` is for the developer's venv


def _pins() -> dict[str, str]:
    pins = {}
    for text in CONSTRAINTS.read_text("utf-8").splitlines():
        line = text.split("#", 1)[0].strip()
        if not line:
            continue
        name, separator, version = line.partition("==")
        assert separator and version and not any(c in version for c in "<>=!~*,; "), line
        assert canonicalize_name(name) not in pins, f"{name} pinned twice"
        pins[canonicalize_name(name)] = version.strip()
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((EDGE / "pyproject.toml").read_text("utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras | {""})


def _closure() -> dict[str, str]:
    """{distribution: installed version} for every runtime dependency, transitively."""
    found: dict[str, str] = {}
    todo = [(r, set()) for r in _declared()]
    while todo:
        requirement, parent_extras = todo.pop()
        key = canonicalize_name(requirement.name)
        if key in found or not _applies(requirement, parent_extras):
            continue
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError:
            pytest.fail(f"{requirement.name} is not installed: pip install -e './edge_agent[test]'")
        found[key] = dist.version
        extras = set(requirement.extras)
        todo += [(Requirement(text), extras) for text in dist.requires or []]
    return found


def test_constraints_pin_every_declared_dependency_within_its_range():
    pins = _pins()
    for requirement in _declared():
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{requirement.name} is declared but not pinned in constraints.txt"
        assert requirement.specifier.contains(
            pins[key], prereleases=True
        ), f"constraints.txt pins {key}=={pins[key]}, outside the declared {requirement}"


def test_constraints_pin_every_transitive_dependency_at_the_version_tested():
    pins = _pins()
    closure = _closure()
    assert sorted(set(closure) - set(pins)) == [], "installed by the agent but not pinned"
    assert sorted(set(pins) - set(closure)) == [], "pinned but not needed by the agent"
    drift = {k: (pins[k], v) for k, v in closure.items() if pins[k] != v}
    assert drift == {}, (
        "this venv does not run the pinned versions (pinned, installed); reinstall with"
        " -c edge_agent/constraints.txt"
    )


def test_paho_is_pinned_to_one_exact_version_in_the_package_metadata():
    (paho,) = [r for r in _declared() if canonicalize_name(r.name) == "paho-mqtt"]
    assert [(s.operator, s.version) for s in paho.specifier] == [("==", _pins()["paho-mqtt"])]


def test_orjson_is_an_optional_extra_not_a_requirement():
    project = tomllib.loads((EDGE / "pyproject.toml").read_text("utf-8"))["project"]
    assert not [
        r for r in project["dependencies"] if canonicalize_name(Requirement(r).name) == "orjson"
    ]
    assert [Requirement(r).name for r in project["optional-dependencies"]["fast"]] == ["orjson"]


@pytest.fixture
def codec_without_orjson(monkeypatch):
    """mfg_edge.codec imported again where `import orjson` fails (no wheel for the CPU)."""
    import mfg_edge.codec

    real_import = builtins.__import__

    def no_orjson(name, *args, **kwargs):
        if name == "orjson" or name.startswith("orjson."):
            raise ImportError("No module named 'orjson'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "orjson", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_orjson)
    module = importlib.reload(mfg_edge.codec)
    monkeypatch.setattr(builtins, "__import__", real_import)
    yield module
    monkeypatch.undo()
    importlib.reload(mfg_edge.codec)


def test_the_codec_works_without_orjson(codec_without_orjson):
    codec = codec_without_orjson
    assert codec.orjson is None
    value = {"qty": 12.5, "lot": "LOT-ÄÖ", "big": 2**70, "nested": [1, None, True]}
    text = codec.dumps_compact(value)
    assert text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert codec.loads(text.encode()) == value
    assert codec.loads('{"x": NaN}')["x"] != codec.loads('{"x": NaN}')["x"]
    with pytest.raises(ValueError):
        codec.loads(b"{not json")
