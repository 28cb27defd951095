"""setup/audit_pins.py on made-up advisory data (no network): which pins it tells to move."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import urllib.error
from pathlib import Path

import pytest

REPO = Path(os.environ.get("MFG_REPO") or Path(__file__).resolve().parents[2])
_spec = importlib.util.spec_from_file_location("audit_pins", REPO / "setup" / "audit_pins.py")
audit_pins = importlib.util.module_from_spec(_spec)
sys.modules["audit_pins"] = audit_pins  # dataclasses look their module up there
_spec.loader.exec_module(audit_pins)


def _record(folder: Path, ident: str, package: str, events: list[dict], aliases=(), fmt="json"):
    record = {
        "id": ident,
        "aliases": list(aliases),
        "summary": f"made-up advisory {ident}",
        "affected": [
            {
                "package": {"name": package, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }
    path = folder / package / f"{ident}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path.write_text(json.dumps(record), "utf-8")
    else:
        import yaml

        path.write_text(yaml.safe_dump(record), "utf-8")


@pytest.fixture
def osv(tmp_path):
    folder = tmp_path / "vulns"
    # Fixed in two lines, as Werkzeug's advisories are.
    _record(
        folder,
        "GHSA-aaaa",
        "werkzeug",
        [{"introduced": "0"}, {"fixed": "2.3.8"}, {"introduced": "3.0.0"}, {"fixed": "3.0.3"}],
        aliases=["CVE-2000-1"],
    )
    # The same vulnerability under PyPA's id, in YAML: reported once.
    _record(
        folder,
        "PYSEC-2000-1",
        "werkzeug",
        [{"introduced": "3.0.0"}, {"fixed": "3.0.3"}],
        aliases=["CVE-2000-1"],
        fmt="yaml",
    )
    _record(folder, "GHSA-bbbb", "werkzeug", [{"introduced": "3.1.0"}, {"fixed": "3.1.4"}])
    # Fixed only in a later major line.
    _record(folder, "GHSA-cccc", "cryptography", [{"introduced": "0"}, {"fixed": "44.0.1"}])
    # Not fixed anywhere, up to a last affected release.
    _record(folder, "GHSA-dddd", "pypdf2", [{"introduced": "2.2.0"}, {"last_affected": "3.0.1"}])
    return folder


def _run(tmp_path, osv, pins: str, capsys):
    constraints = tmp_path / "pins.txt"
    constraints.write_text(pins, "utf-8")
    code = audit_pins.main(["--osv-dir", str(osv), str(constraints)])
    return code, capsys.readouterr().out


def test_a_pin_with_a_fix_in_its_own_line_fails_and_names_the_release(tmp_path, osv, capsys):
    code, out = _run(tmp_path, osv, "Werkzeug==3.0.1\ncryptography==42.0.8\n", capsys)
    assert code == 1
    assert "Werkzeug==3.0.1 -> 3.0.3  GHSA-aaaa, CVE-2000-1, PYSEC-2000-1" in out
    assert out.count("CVE-2000-1") == 1
    assert "GHSA-bbbb" not in out  # 3.1.x only
    assert "cryptography==42.0.8  GHSA-cccc  (fixed in: 44.0.1)" in out.split("no fix in")[1]


def test_pins_past_every_fix_in_their_line_pass(tmp_path, osv, capsys):
    code, out = _run(
        tmp_path, osv, "werkzeug==3.1.9\ncryptography==44.0.3\nPyPDF2==3.0.2\n", capsys
    )
    assert code == 0
    assert "No pin has a known vulnerability" in out


def test_an_advisory_without_a_fix_in_the_line_is_listed_but_does_not_fail(tmp_path, osv, capsys):
    code, out = _run(tmp_path, osv, "cryptography==42.0.8\nPyPDF2==2.12.1\n", capsys)
    assert code == 0
    assert "PyPDF2==2.12.1  GHSA-dddd  (fixed in: none)" in out


def test_pypi_answers_are_read_and_withdrawn_advisories_ignored(monkeypatch):
    body = {
        "vulnerabilities": [
            {
                "id": "GHSA-x",
                "aliases": ["CVE-1"],
                "fixed_in": ["3.0.3", "3.1.4"],
                "withdrawn": None,
            },
            {"id": "GHSA-y", "aliases": [], "fixed_in": ["3.0.2"], "withdrawn": "2024-01-01"},
        ]
    }
    urls = []

    def fake_urlopen(request, timeout):
        urls.append(request.full_url)
        return io.BytesIO(json.dumps(body).encode())

    monkeypatch.setattr(audit_pins.urllib.request, "urlopen", fake_urlopen)
    findings, errors = audit_pins.audit(
        {"werkzeug": ("Werkzeug", "3.0.1")}, audit_pins.pypi_advisories
    )
    assert urls == ["https://pypi.org/pypi/Werkzeug/3.0.1/json"]
    assert errors == []
    assert [(f.advisory.id, f.line_fix) for f in findings] == [("GHSA-x", "3.0.3")]


def test_unreachable_advisory_data_is_an_error_not_a_pass(monkeypatch, tmp_path, capsys):
    def fake_urlopen(request, timeout):
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)

    monkeypatch.setattr(audit_pins.urllib.request, "urlopen", fake_urlopen)
    pins = tmp_path / "pins.txt"
    pins.write_text("requests==2.31.0\n", "utf-8")
    assert audit_pins.main([str(pins)]) == 3
    assert "advisory data unavailable" in capsys.readouterr().err
