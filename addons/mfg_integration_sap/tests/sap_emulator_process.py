"""The SAP emulator (``sap_emulator/`` at the repository root) as a child process for tests:
started with ``sys.executable -m sap_emulator`` on a free port of 127.0.0.1, its fault
switches and counts through its admin API, stopped (and waited for) at the end."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import Request, urlopen

REPO_ROOT = Path(__file__).resolve().parents[3]
USER = "MFG_COMM_USER"
PASSWORD = "emulator-test-secret"
SAP_CLIENT = "100"
START_TIMEOUT_S = 20


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmulatorProcess:
    def __init__(self, *, orders=200, seed=42, extra_args=()):
        self.port = free_port()
        self.directory = tempfile.TemporaryDirectory(prefix="sap_emulator_")
        password_file = Path(self.directory.name) / "password"
        password_file.write_text(PASSWORD, encoding="utf-8")
        self.log = open(Path(self.directory.name) / "emulator.log", "w+", encoding="utf-8")  # noqa: SIM115
        command = [
            sys.executable, "-m", "sap_emulator", "--port", str(self.port), "--seed", str(seed),
            "--orders", str(orders), "--user", USER, "--password-file", str(password_file),
            "--sap-client", SAP_CLIENT, *extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.state()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the SAP emulator did not start: {self.output()}") from None
                time.sleep(0.1)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def service_root(self):
        return f"{self.url}/sap/opu/odata/sap/"

    def _admin(self, method, name, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = Request(  # 127.0.0.1 only
            f"{self.url}/__emulator__/{name}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def state(self):
        return self._admin("GET", "state")

    def set_faults(self, **switches):
        return self._admin("POST", "faults", switches)

    def clear_faults(self):
        return self._admin("DELETE", "faults")

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-2000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        self.directory.cleanup()
