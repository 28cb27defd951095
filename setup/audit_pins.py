"""Known vulnerabilities of the pinned packages, and the release of their own line that fixes them.

Usage (from the repository root, with the project's virtualenv):

    .venv/bin/python setup/audit_pins.py                        # PyPI's advisory data (network)
    .venv/bin/python setup/audit_pins.py --osv-dir DIR          # a local OSV database instead
    .venv/bin/python setup/audit_pins.py setup/requirements-odoo.txt   # other pin files

By default it reads every `name==version` line of setup/constraints-odoo.txt (the full set the
Odoo virtualenv runs). For each pin it asks PyPI's JSON API for that release
(`https://pypi.org/pypi/<name>/<version>/json`, field `vulnerabilities`, the OSV data PyPI shows),
or, with --osv-dir, reads the OSV records (YAML or JSON) found under DIR, for instance a checkout
of the PyPA advisory database (its `vulns/` folder). For each advisory it prints the versions that
fix it and the lowest fix in the pin's own major line.

Exit code: 0 when no pin has an advisory that a release of its own major line fixes, 1 when some
pin does (the pin to move to is printed), 2 on bad usage, 3 when the advisory data could not be
read. Advisories with no fix in the pin's line are listed as such and do not fail the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [REPO / "setup" / "constraints-odoo.txt"]
PYPI_URL = "https://pypi.org/pypi/{name}/{version}/json"


class DataUnavailable(Exception):
    """The advisory data for a pin could not be read."""


@dataclass
class Advisory:
    id: str
    aliases: list[str]
    fixed_in: list[str]
    summary: str = ""

    def names(self) -> str:
        return ", ".join([self.id, *sorted(a for a in self.aliases if a != self.id)])


@dataclass
class Finding:
    name: str
    version: str
    advisory: Advisory
    line_fix: str | None  # lowest fixed version in the pin's major line, above the pin
    fixes: list[str] = field(default_factory=list)


def read_pins(paths: list[Path]) -> dict[str, tuple[str, str]]:
    """{canonical name: (name as written, version)} for every `name==version` line."""
    pins: dict[str, tuple[str, str]] = {}
    for path in paths:
        for text in path.read_text("utf-8").splitlines():
            line = text.split("#", 1)[0].split(";", 1)[0].strip()
            if not line or line.startswith("-") or "==" not in line:
                continue
            name, _, version = line.partition("==")
            name = name.split("[", 1)[0].strip()
            pins[canonicalize_name(name)] = (name, version.strip())
    return pins


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


# --- PyPI's JSON API ---------------------------------------------------------------------------
def pypi_advisories(name: str, version: str, timeout: float = 30) -> list[Advisory]:
    url = PYPI_URL.format(name=name, version=version)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.load(response)
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise DataUnavailable(f"{url}: {exc}") from exc
    return [
        Advisory(
            v["id"],
            list(v.get("aliases") or []),
            list(v.get("fixed_in") or []),
            v.get("summary") or "",
        )
        for v in data.get("vulnerabilities") or []
        if not v.get("withdrawn")
    ]


# --- A local OSV database ----------------------------------------------------------------------
def _load_record(path: Path) -> dict | None:
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml  # only needed for YAML records (the PyPA database); PyYAML is in .venv

    return yaml.safe_load(text)


def load_osv_dir(directory: Path) -> dict[str, list[dict]]:
    """{canonical package name: [(OSV record, its PyPI 'affected' entry), ...]}."""
    index: dict[str, list[dict]] = {}
    for path in sorted(directory.rglob("*")):
        if path.suffix not in {".yaml", ".yml", ".json"} or not path.is_file():
            continue
        record = _load_record(path)
        if not isinstance(record, dict) or record.get("withdrawn"):
            continue
        for affected in record.get("affected") or []:
            package = affected.get("package") or {}
            if package.get("ecosystem") != "PyPI" or not package.get("name"):
                continue
            index.setdefault(canonicalize_name(package["name"]), []).append(
                {"record": record, "affected": affected}
            )
    if not index:
        raise DataUnavailable(f"no OSV records for PyPI packages under {directory}")
    return index


def _affects(affected: dict, version: str) -> tuple[bool, list[str]]:
    """Whether `version` is affected, and the fixed versions the entry names."""
    fixed_all: list[str] = []
    hit = version in {str(v) for v in affected.get("versions") or []}
    current = _version(version)
    for range_ in affected.get("ranges") or []:
        if range_.get("type") != "ECOSYSTEM":
            continue
        introduced = fixed = last = None
        for event in range_.get("events") or []:
            if "introduced" in event:
                value = str(event["introduced"])
                introduced = Version("0") if value == "0" else _version(value)
                fixed = last = None
            if "fixed" in event:
                fixed = _version(str(event["fixed"]))
                fixed_all.append(str(event["fixed"]))
            if "last_affected" in event:
                last = _version(str(event["last_affected"]))
            if (
                current is not None
                and introduced is not None
                and (fixed or last or "limit" in event)
            ):
                upper_ok = (fixed is None or current < fixed) and (last is None or current <= last)
                hit = hit or (introduced <= current and upper_ok)
        if current is not None and introduced is not None and fixed is None and last is None:
            hit = hit or introduced <= current  # open range: every later version affected
    return hit, fixed_all


def osv_advisories(index: dict[str, list[dict]], name: str, version: str) -> list[Advisory]:
    found: dict[str, Advisory] = {}
    for entry in index.get(canonicalize_name(name), []):
        hit, fixed = _affects(entry["affected"], version)
        if not hit:
            continue
        record = entry["record"]
        advisory = found.setdefault(
            record["id"],
            Advisory(
                record["id"], list(record.get("aliases") or []), [], record.get("summary") or ""
            ),
        )
        advisory.fixed_in += [f for f in fixed if f not in advisory.fixed_in]
    return list(found.values())


# --- The report --------------------------------------------------------------------------------
def lowest_fix_in_line(version: str, fixed_in: list[str]) -> str | None:
    current = _version(version)
    if current is None:
        return None
    candidates = [
        v
        for v in (_version(f) for f in fixed_in)
        if v is not None and v.major == current.major and v > current
    ]
    return str(min(candidates)) if candidates else None


def _merge(advisories: list[Advisory]) -> list[Advisory]:
    """One entry per vulnerability: records that share an id or an alias are merged."""
    merged: list[Advisory] = []
    for advisory in advisories:
        keys = {advisory.id, *advisory.aliases}
        for other in merged:
            if keys & {other.id, *other.aliases}:
                other.aliases = sorted(set(other.aliases) | keys - {other.id})
                other.fixed_in += [f for f in advisory.fixed_in if f not in other.fixed_in]
                break
        else:
            merged.append(
                Advisory(
                    advisory.id, list(advisory.aliases), list(advisory.fixed_in), advisory.summary
                )
            )
    return merged


def audit(pins: dict[str, tuple[str, str]], lookup) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    errors: list[str] = []
    for key in sorted(pins):
        name, version = pins[key]
        try:
            advisories = _merge(lookup(name, version))
        except DataUnavailable as exc:
            errors.append(str(exc))
            continue
        for advisory in sorted(advisories, key=lambda a: a.id):
            fixes = sorted({f for f in advisory.fixed_in if _version(f)}, key=Version)
            findings.append(
                Finding(name, version, advisory, lowest_fix_in_line(version, fixes), fixes)
            )
    return findings, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "files", nargs="*", type=Path, help="pin files (default: setup/constraints-odoo.txt)"
    )
    parser.add_argument(
        "--osv-dir", type=Path, help="read OSV records from this folder instead of PyPI"
    )
    args = parser.parse_args(argv)
    files = args.files or DEFAULT_FILES
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    pins = read_pins(files)
    if args.osv_dir:
        try:
            index = load_osv_dir(args.osv_dir)
        except DataUnavailable as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 3
        source = f"OSV records under {args.osv_dir}"

        def lookup(name, version):
            return osv_advisories(index, name, version)
    else:
        source = "PyPI's JSON API"
        lookup = pypi_advisories

    findings, errors = audit(pins, lookup)
    print(f"{len(pins)} pins from {', '.join(str(f) for f in files)}, checked against {source}")
    if errors:
        for error in errors:
            print(f"ERROR: advisory data unavailable: {error}", file=sys.stderr)
        return 3
    to_fix = [f for f in findings if f.line_fix]
    rest = [f for f in findings if not f.line_fix]
    for title, group in (
        ("fixed in the pin's own line (move the pin)", to_fix),
        ("no fix in the pin's line", rest),
    ):
        if not group:
            continue
        print(f"\n{title}:")
        for f in group:
            fixes = ", ".join(f.fixes) or "none"
            target = f" -> {f.line_fix}" if f.line_fix else ""
            print(f"  {f.name}=={f.version}{target}  {f.advisory.names()}  (fixed in: {fixes})")
    if to_fix:
        print(
            f"\n{len({f.name for f in to_fix})} pin(s) to move to a patched release of their line."
        )
        return 1
    print("\nNo pin has a known vulnerability that a release of its own major line fixes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
