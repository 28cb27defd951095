"""setup/lib.sh starts, reports and stops background processes by pid file, and only its own."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(os.environ.get("MFG_REPO") or Path(__file__).resolve().parents[2])
LIB = REPO / "setup" / "lib.sh"


def lib(tmp_path, script, timeout=60):
    """Run bash code with setup/lib.sh loaded and its pid and log folders moved to tmp_path."""
    prelude = (
        f'set -euo pipefail; source "{LIB}"; '
        f'PID_DIR="{tmp_path}/pids"; LOG_DIR="{tmp_path}/logs"; MFG_STOP_TIMEOUT=2; '
    )
    return subprocess.run(
        ["bash", "-c", prelude + script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.split(") ", 1)[1][0] != "Z"


def test_start_status_stop(tmp_path):
    result = lib(tmp_path, "start_background sleeper /bin/sleep 300; status_all")
    assert result.returncode == 0, result.stderr
    pid = int((tmp_path / "pids" / "sleeper.pid").read_text())
    try:
        assert alive(pid)
        assert "sleeper" in result.stdout and "running" in result.stdout
        again = lib(tmp_path, "start_background sleeper /bin/sleep 300")
        assert "already running" in again.stdout
        assert int((tmp_path / "pids" / "sleeper.pid").read_text()) == pid
        stopped = lib(tmp_path, "stop_background sleeper; status_all")
        assert stopped.returncode == 0, stopped.stderr
        time.sleep(0.2)
        assert not alive(pid)
        assert not (tmp_path / "pids" / "sleeper.pid").exists()
        assert "nothing started" in stopped.stdout
    finally:
        if alive(pid):
            os.kill(pid, 9)


def test_process_ignoring_sigterm_is_killed(tmp_path):
    result = lib(
        tmp_path, "start_background stubborn /bin/bash -c 'trap \"\" TERM; sleep 300 & wait'"
    )
    assert result.returncode == 0, result.stderr
    pid = int((tmp_path / "pids" / "stubborn.pid").read_text())
    try:
        stopped = lib(tmp_path, "stop_background stubborn")
        assert "did not stop within 2s" in stopped.stderr
        time.sleep(0.2)
        assert not alive(pid)
    finally:
        if alive(pid):
            os.kill(pid, 9)


def test_reused_pid_is_never_killed(tmp_path):
    stranger = subprocess.Popen(["/bin/sleep", "300"])
    try:
        pids = tmp_path / "pids"
        pids.mkdir()
        (pids / "odoo.pid").write_text(f"{stranger.pid}\n")
        (pids / "odoo.args").write_text("/somewhere/.venv/bin/odoo\n-c\n/somewhere/odoo.conf\n")
        result = lib(tmp_path, "stop_background odoo; is_running odoo || echo not-ours")
        assert result.returncode == 0, result.stderr
        assert "not the odoo we started" in result.stderr
        assert "not-ours" in result.stdout
        assert stranger.poll() is None
        assert not (pids / "odoo.pid").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_port_held_by_our_own_process_is_not_busy(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = (
        "import socket, sys, time; s = socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(300)"
    )
    result = lib(
        tmp_path,
        f'start_background odoo {sys.executable} -c "{server}" {port}; '
        f'echo {port} >"$PID_DIR/odoo.port"; sleep 1; '
        f"if port_busy {port} odoo; then echo ours-busy; else echo ours-free; fi; "
        f"if port_busy {port} simulator; then echo other-busy; else echo other-free; fi; "
        "stop_background odoo",
    )
    assert result.returncode == 0, result.stderr
    assert "ours-free" in result.stdout
    assert "other-busy" in result.stdout


def test_no_process_keeps_the_run_lock_after_setup():
    """setup/test.sh took run/.run.lock to install and start what the tests need (PostgreSQL,
    Mosquitto), then released it. A server started while the lock was held must not have
    inherited its descriptor: it would hold the lock for as long as it runs, and the next
    ./setup/run.sh or ./setup/test.sh would wait 15 minutes and give up."""
    lock = (REPO / "run" / ".run.lock").resolve()
    if not lock.exists():
        import pytest

        pytest.skip("run/.run.lock does not exist: run through ./setup/test.sh")
    holders = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == str(lock):
                    cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    holders.append(f"{proc.name}: {cmdline.strip()[:120]}")
                    break
        except OSError:
            continue  # gone meanwhile, or not ours to read
    assert not holders, f"processes holding {lock}: {holders}"
