"""The Odoo virtualenv's pins: requirement files, constraints file, README and .venv agree.

setup/constraints-odoo.txt holds the exact versions of everything .venv installs; setup/lib.sh
installs with it. These checks need no network: whether a pin has a published vulnerability is
setup/audit_pins.py's job, run when the pins change (README, "Dependency pins").
"""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

REPO = Path(os.environ.get("MFG_REPO") or Path(__file__).resolve().parents[2])
SETUP = REPO / "setup"
CONSTRAINTS = SETUP / "constraints-odoo.txt"
REQUIREMENT_FILES = (SETUP / "requirements-odoo.txt", SETUP / "requirements-project.txt")
ODOO_SRC = Path(os.environ.get("ODOO_SRC") or "/opt/odoo/18.0")
# Installed in .venv but deliberately not in the constraints file (see its header).
NOT_CONSTRAINED = {"odoo", "odoo-addon-queue-job", "pip", "setuptools", "wheel"}


def _lines(path: Path) -> list[str]:
    lines = []
    for text in path.read_text("utf-8").splitlines():
        line = text.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in _lines(CONSTRAINTS):
        name, separator, version = line.partition("==")
        assert separator and version and not re.search(r"[<>=!~*,;\s\[]", version + name), line
        key = canonicalize_name(name)
        assert key not in pins, f"{name} pinned twice in constraints-odoo.txt"
        pins[key] = version
    return pins


def _requirements() -> list[tuple[Path, Requirement]]:
    found = []
    for path in REQUIREMENT_FILES:
        for line in _lines(path):
            found.append((path, Requirement(line)))
    return found


def _exact(requirement: Requirement) -> str | None:
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator == "==":
        return specs[0].version
    return None


def test_the_constraints_file_pins_exact_versions_once_each():
    pins = _constraints()
    assert len(pins) > 50, "constraints-odoo.txt looks truncated"
    assert not NOT_CONSTRAINED & set(pins), "odoo, queue_job and pip's own tools stay out (header)"


def test_every_requirement_is_pinned_in_the_constraints_at_the_same_version():
    pins = _constraints()
    problems = []
    for path, requirement in _requirements():
        key = canonicalize_name(requirement.name)
        if key == "odoo-addon-queue-job":
            assert _exact(requirement), "queue_job is pinned exactly in requirements-project.txt"
            continue
        if key not in pins:
            problems.append(
                f"{requirement.name} ({path.name}) is missing from constraints-odoo.txt"
            )
        elif not requirement.specifier.contains(pins[key], prereleases=True):
            problems.append(
                f"{path.name} asks for {requirement}, constraints-odoo.txt pins {pins[key]}"
            )
    assert problems == []


def test_the_requirement_files_pin_exactly_except_where_odoo_does_not():
    # Odoo's own list leaves pytz and lxml-html-clean open; the constraints file pins them.
    open_ = sorted(canonicalize_name(r.name) for _, r in _requirements() if _exact(r) is None)
    assert open_ == ["lxml-html-clean", "pytz"]


def test_this_venv_runs_exactly_the_constrained_versions():
    if not (Path(sys.prefix) / "bin" / "odoo").exists():
        pytest.skip("not running in the Odoo virtualenv (.venv)")
    pins = _constraints()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    missing = sorted(set(pins) - set(installed))
    extra = sorted(set(installed) - set(pins) - NOT_CONSTRAINED)
    drift = {k: (pins[k], installed[k]) for k in pins if k in installed and installed[k] != pins[k]}
    assert missing == [], "pinned but not installed in this venv"
    assert extra == [], "installed in this venv but not pinned in constraints-odoo.txt"
    assert drift == {}, (
        "this venv does not run the pinned versions (pinned, installed); run ./setup/run.sh"
        " install, which reinstalls with -c setup/constraints-odoo.txt"
    )


def _odoo_pins() -> dict[str, str]:
    """Odoo's own pins for the Python it targets on Noble (the >= 3.12 lines, see our header)."""
    environment = {
        "python_version": "3.12",
        "python_full_version": "3.12.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": platform.machine() or "x86_64",
    }
    pins = {}
    for line in _lines(ODOO_SRC / "requirements.txt"):
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate(environment):
            version = _exact(requirement)
            if version:
                pins[canonicalize_name(requirement.name)] = (requirement.name, version)
    return pins


def test_the_readme_names_every_pin_that_departs_from_odoo():
    if not (ODOO_SRC / "requirements.txt").is_file():
        pytest.skip(f"no Odoo source at {ODOO_SRC}")
    odoo = _odoo_pins()
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("### Dependency pins", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    ours = {
        canonicalize_name(r.name): (r.name, _exact(r))
        for path, r in _requirements()
        if path.name == "requirements-odoo.txt" and _exact(r)
    }
    departures = {
        key: (odoo[key][1], version)
        for key, (_, version) in ours.items()
        if key in odoo and odoo[key][1] != version
    }
    assert departures, "no pin departs from Odoo's: the README's table would be stale"
    unnamed = [
        f"{key} {old} -> {new}"
        for key, (old, new) in sorted(departures.items())
        if not re.search(
            rf"\|\s*{re.escape(odoo[key][0])}\s*\|\s*{re.escape(old)}\s*\|\s*{re.escape(new)}\s*\|",
            section,
            re.I,
        )
    ]
    assert unnamed == [], "README, Dependency pins: add a row | name | Odoo's pin | ours | why |"
