"""setup/lib.sh's start_sap_emulator, as ./setup/run.sh calls it for the demo, on a port of its
own: the password made once (mode 600), the pid file, status, stop, and the state kept."""

import os
import stat
import subprocess
import time

import requests
from sap_harness import ORDERS, REPO

LIB = REPO / "setup" / "lib.sh"
PORT = 8217


def lib(tmp_path, script, **env):
    prelude = (
        f'set -euo pipefail; source "{LIB}"; PID_DIR="{tmp_path}/pids"; '
        f'LOG_DIR="{tmp_path}/logs"; SAP_DIR="{tmp_path}/sap"; MFG_STOP_TIMEOUT=5; '
        "MFG_DB=mfg_t_sapemu_absent; "
    )
    return subprocess.run(
        ["bash", "-c", prelude + script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "MFG_SAP_EMULATOR_PORT": str(PORT), **env},
    )


def wait_for(url, password):
    deadline = time.monotonic() + 20
    while True:
        try:
            return requests.get(
                url, params={"$format": "json", "$top": "2", "sap-client": "100"},
                auth=("MFG_COMM_USER", password), timeout=2,
            )  # fmt: skip
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "the emulator did not answer"
            time.sleep(0.1)


def test_start_status_stop_and_restart_keep_password_and_state(tmp_path):
    url = f"http://127.0.0.1:{PORT}/sap/opu/odata/sap/{ORDERS}/A_ProductionOrder_2"
    started = lib(tmp_path, "start_sap_emulator; status_all")
    pid_file = tmp_path / "pids" / "sap-emulator.pid"
    try:
        assert started.returncode == 0, started.stderr
        assert "sap-emulator" in started.stdout and "running" in started.stdout
        password_file = tmp_path / "sap" / "emulator_password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        password = password_file.read_text().strip()
        assert len(password) >= 24
        answer = wait_for(url, password)
        assert answer.status_code == 200 and len(answer.json()["d"]["results"]) == 2
        assert wait_for(url, "wrong").status_code == 401
        pid = pid_file.read_text().strip()
        again = lib(tmp_path, "start_sap_emulator")
        assert again.returncode == 0 and pid_file.read_text().strip() == pid
        requests.post(
            f"http://127.0.0.1:{PORT}/__emulator__/orders", json={"quantity": "7"}, timeout=5
        ).raise_for_status()
        stopped = lib(tmp_path, "stop_all; status_all")
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped sap-emulator" in stopped.stdout and not pid_file.exists()
        restarted = lib(tmp_path, "start_sap_emulator")
        assert restarted.returncode == 0, restarted.stderr
        assert password_file.read_text().strip() == password
        wait_for(url, password)
        state = requests.get(f"http://127.0.0.1:{PORT}/__emulator__/state", timeout=5).json()
        assert state["orders"] == 201  # the seed's 200 and the one created before the restart
    finally:
        lib(tmp_path, "stop_all")
    assert not pid_file.exists()


def test_switched_off_starts_nothing(tmp_path):
    result = lib(tmp_path, "start_sap_emulator; status_all", MFG_SAP_EMULATOR="0")
    assert result.returncode == 0, result.stderr
    assert "no SAP emulator" in result.stdout
    assert not (tmp_path / "pids" / "sap-emulator.pid").exists()
