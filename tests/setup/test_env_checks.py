"""setup/run.sh refuses a bad environment with one clear sentence and exit code 2.

Each check must come before any pip or apt work and must not touch a running demo, so every
test also asserts that the run is fast and that the pid files under run/pids/ are unchanged.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(os.environ.get("MFG_REPO") or Path(__file__).resolve().parents[2])
RUN_SH = REPO / "setup" / "run.sh"
FAST_SECONDS = 20
# Settings a developer may have exported that would change which check fires first.
CLEARED = (
    "MFG_DB",
    "MFG_DB_HOST",
    "MFG_DB_PORT",
    "MFG_DB_USER",
    "MFG_DB_PASSWORD",
    "MFG_HTTP_PORT",
    "MFG_PYTHON",
    "MFG_MODULES",
    "MFG_EXTRA_ADDONS_PATH",
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_files():
    pid_dir = REPO / "run" / "pids"
    if not pid_dir.is_dir():
        return {}
    return {path.name: path.read_text() for path in sorted(pid_dir.glob("*.pid"))}


def run_setup(*args, **overrides):
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.setdefault("ODOO_SRC", "/opt/odoo/18.0")
    env["MFG_HTTP_PORT"] = str(free_port())
    env.update(overrides)
    before = pid_files()
    started = time.monotonic()
    result = subprocess.run(
        [str(RUN_SH), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert pid_files() == before, "the environment check touched running processes"
    return result, elapsed


def assert_refused(result, elapsed, sentence):
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert sentence in result.stderr, output
    assert "Traceback" not in output
    assert "installing" not in output, "the check must come before any installation"
    assert elapsed < FAST_SECONDS, f"took {elapsed:.1f}s"


def test_help_lists_commands_and_settings():
    result, _ = run_setup("--help")
    assert result.returncode == 0
    for word in ("start", "stop", "status", "ODOO_SRC", "MFG_DB", "MFG_HTTP_PORT", "MFG_PYTHON"):
        assert word in result.stdout


def test_unknown_command_is_refused():
    result, _ = run_setup("launch")
    assert result.returncode == 2
    assert "Usage: setup/run.sh" in result.stderr


def test_missing_odoo_source_stops_without_cloning():
    result, elapsed = run_setup(ODOO_SRC="/nonexistent")
    assert_refused(
        result, elapsed, "No Odoo 18.0 source tree at ODOO_SRC=/nonexistent: point ODOO_SRC at"
    )
    assert "clon" not in (result.stdout + result.stderr).lower()


def test_wrong_python_version(tmp_path):
    fake = tmp_path / "python3.9"
    fake.write_text('#!/bin/sh\necho "Python 3.9.18"\n')
    fake.chmod(0o755)
    result, elapsed = run_setup(MFG_PYTHON=str(fake))
    assert_refused(result, elapsed, f"Python 3.11 is required but '{fake}' is version 3.9")


def test_missing_python():
    result, elapsed = run_setup(MFG_PYTHON="/nonexistent/python3.11")
    assert_refused(result, elapsed, "Python 3.11 was not found as '/nonexistent/python3.11'")


def test_busy_http_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result, elapsed = run_setup(MFG_HTTP_PORT=str(port))
    assert_refused(result, elapsed, f"Port {port} is already in use by another program")


def test_invalid_port_number():
    result, elapsed = run_setup(MFG_HTTP_PORT="80a")
    assert_refused(result, elapsed, "The port '80a' (from MFG_HTTP_PORT) is not a valid TCP port")


def test_unreachable_postgresql():
    result, elapsed = run_setup(MFG_DB_HOST="127.0.0.1", MFG_DB_PORT="1")
    assert_refused(result, elapsed, "PostgreSQL is not reachable at 127.0.0.1:1")


@pytest.mark.parametrize("name", ["bad name;", "-dash", "a", "x'y"])
def test_invalid_database_name(name):
    result, elapsed = run_setup(MFG_DB=name)
    assert_refused(result, elapsed, f"The database name '{name}' (from MFG_DB) is not valid")
