"""A real Odoo server (prefork workers + queue_job runner) for cross-process tests.

The database is the one setup/test.sh just installed our addons into (MFG_TEST_DB); the
server gets its own config, port, log and pid file under run/, and is stopped at the end.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import xmlrpc.client
from pathlib import Path

import psycopg2

REPO = Path(os.environ.get("MFG_REPO", Path(__file__).resolve().parents[2]))
RUN = REPO / "run"


def env_or_skip(name):
    value = os.environ.get(name)
    if not value:
        import pytest

        pytest.skip(f"{name} is not set: run through ./setup/test.sh")
    return value


class OdooServer:
    def __init__(self, database, base_conf, venv, port, workers=2):
        self.database = database
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.venv = Path(venv)
        self.workers = workers
        self.conf = RUN / f"xproc-odoo-{port}.conf"
        self.log = RUN / "logs" / f"xproc-odoo-{port}.log"
        self.pidfile = RUN / "pids" / f"xproc-odoo-{port}.pid"
        self._write_conf(Path(base_conf))
        self.process = None

    def _write_conf(self, base_conf):
        lines = []
        for line in base_conf.read_text().splitlines():
            key = line.split("=")[0].strip()
            if key in {
                "http_port",
                "workers",
                "dbfilter",
                "logfile",
                "pidfile",
                "db_name",
                "max_cron_threads",
                "server_wide_modules",
                "gevent_port",
            }:
                continue
            lines.append(line)
            if line.strip() == "[options]":
                lines += [
                    f"http_port = {self.port}",
                    # the long-polling port must not collide with a running demo's 8072
                    f"gevent_port = {self.port + 10000}",
                    f"workers = {self.workers}",
                    "max_cron_threads = 1",
                    f"dbfilter = ^{self.database}$",
                    f"db_name = {self.database}",
                    f"logfile = {self.log}",
                    "server_wide_modules = base,web,queue_job",
                    "limit_time_real = 120",
                ]
        text = "\n".join(lines) + "\n"
        if "[queue_job]" not in text:
            text += "\n[queue_job]\nchannels = root:2\n"
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(text)

    def _port_is_free(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) != 0

    def start(self, timeout=90):
        # Another server on this port would answer in our place (with another database).
        deadline = time.monotonic() + 20
        while not self._port_is_free():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Port {self.port} is in use by another program; set another port"
                )
            time.sleep(0.5)
        self.process = subprocess.Popen(
            [
                str(self.venv / "bin" / "odoo"),
                "-c",
                str(self.conf),
                "-d",
                self.database,
                f"--pidfile={self.pidfile}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo exited with {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/web/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"Odoo did not answer /web/health in {timeout} s; see {self.log}")

    def worker_pids(self):
        """PIDs of the HTTP worker processes (children of the prefork master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            pids = [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []
        return [pid for pid in pids if b"gevent" not in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def kill_hard(self):
        """kill -9 the whole server (master, workers, job runner)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    # -- data set-up through the real UI paths (XML-RPC as admin) ----------------------

    def rpc(self):
        return xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/object", allow_none=True)

    def admin_uid(self):
        common = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common")
        return common.authenticate(self.database, "admin", "admin", {})

    def create_system(self, code, contract_codes, **values):
        """A system allowed to post ``contract_codes``, and its API key (via the UI wizard).

        The code gets a random suffix: the database outlives a test run during development.
        """
        code = f"{code}_{uuid.uuid4().hex[:6]}"
        uid = self.admin_uid()
        models = self.rpc()

        def call(model, method, *args, **kwargs):
            return models.execute_kw(self.database, uid, "admin", model, method, list(args), kwargs)

        contract_ids = call(
            "mfg.integration.contract", "search", [("code", "in", list(contract_codes))]
        )
        system_id = call(
            "mfg.integration.system",
            "create",
            dict(
                {"name": code, "code": code, "allowed_contract_ids": [(6, 0, contract_ids)]},
                **values,
            ),
        )
        action = call("mfg.integration.system", "action_generate_api_key", [system_id])
        wizard = call(action["res_model"], "read", [action["res_id"]], fields=["api_key"])
        return system_id, wizard[0]["api_key"]


class Admin:
    """The external API as the admin (JSON-RPC, what an integrator's script would use; it
    carries the None that methods such as action_apply_inventory return)."""

    def __init__(self, server):
        self.server = server
        self.uid = server.admin_uid()

    def __call__(self, model, method, *args, **kwargs):
        params = {
            "service": "object",
            "method": "execute_kw",
            "args": [self.server.database, self.uid, "admin", model, method, list(args), kwargs],
        }
        request = urllib.request.Request(
            f"{self.server.url}/jsonrpc",
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise RuntimeError(f"{model}.{method}: {answer['error']['data']['message']}")
        return answer.get("result")

    def create(self, model, values, **kwargs):
        return self(model, "create", values, **kwargs)

    def xmlid(self, module, name):
        return self(
            "ir.model.data",
            "search_read",
            [("module", "=", module), ("name", "=", name)],
            ["res_id"],
        )[0]["res_id"]


def post(url, key, body, timeout=60):
    """POST JSON; returns (status, parsed body or text, headers)."""
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    request = urllib.request.Request(
        f"{url}/mfg/v1/events",
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _parse(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, _parse(error.read()), dict(error.headers)


def _parse(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def db_connect(database):
    return psycopg2.connect(dbname=database)


def query(database, sql, params=None):
    with db_connect(database) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params or ())
        return cursor.fetchall()


def summary_event(index, source="plant1/gw-xproc", day0=(2020, 1, 1)):
    """An integration.sent.summary event: its handler creates exactly one row per day."""
    from datetime import date, timedelta

    day = date(*day0) + timedelta(days=index)
    return {
        "specversion": "1.0",
        "id": f"summary-{index}-{uuid.uuid5(uuid.NAMESPACE_URL, source)}",
        "source": source,
        "type": "integration.sent.summary",
        "dataschema": "urn:mfg:contract:integration.sent.summary:1.0",
        "time": f"{day.isoformat()}T23:59:00Z",
        "subject": f"summary/{day.isoformat()}",
        "data": {
            "day": day.isoformat(),
            "counts": [{"type": "mes.production.completed", "count": index}],
        },
    }


def wait_until(predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
