"""Real processes for the edge fault tests: a private Mosquitto, the agent, a QoS 1 publisher."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
)
API_KEY = "test-key"
# The agent runs from its own virtualenv, also when a test runs under Odoo's (cross-process).
EDGE_PYTHON = (
    str(Path(os.environ["MFG_EDGE_VENV"]) / "bin" / "python")
    if os.environ.get("MFG_EDGE_VENV")
    else sys.executable
)


def utc_stamp(epoch: float | None = None) -> str:
    """RFC 3339 UTC of `epoch` (default: now): tests stamp events relative to the clock."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def previous_utc_day(now: float | None = None) -> tuple[str, str]:
    """(day, a timestamp at its noon) for the UTC day before `now`: a finished day, whose
    sent summary the agent reports once that day's backlog is sent."""
    today = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC).date()
    noon = datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC) + timedelta(
        hours=12
    )
    return noon.strftime("%Y-%m-%d"), utc_stamp(noon.timestamp())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Broker:
    """A Mosquitto of our own on an ephemeral port, with persistence in a temp directory."""

    def __init__(self, directory: Path, extra_config: str = ""):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            # Default 1000: messages beyond it for an offline persistent session are DROPPED.
            "max_queued_messages 0\n"
            # Started as root, Mosquitto switches to user 'mosquitto', which cannot write here.
            f"user {getpass.getuser()}\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n" + extra_config
        )

    def start(self) -> Broker:
        self.log = open(self.directory / "mosquitto.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)], stdout=self.log, stderr=self.log
        )
        wait_port(self.port)
        return self

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file (sessions, queued messages) and exits."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def prime_session(port: int, client_id: str, topics: list[str]) -> None:
    """Create the agent's persistent session and subscriptions before anything is published,
    so the broker queues messages for it even while the agent is not yet connected."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.connect("127.0.0.1", port)
    client.loop_start()
    result, mid = client.subscribe([(t, 1) for t in topics])
    deadline = time.monotonic() + 5
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    # A publish made while disconnected carries an error code forever, even once paho resent it;
    # treat it as unconfirmed so the publisher republishes it (a duplicate the agent absorbs).
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return False


class Publisher:
    """QoS 1 publisher with its own retries: anything not acknowledged is published again."""

    def __init__(self, port: int, client_id: str = "test-publisher"):
        self.port = port
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        self.sent: list[tuple[str, bytes, mqtt.MQTTMessageInfo]] = []
        deadline = time.monotonic() + 10
        while not self.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)

    def publish(self, topic: str, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.sent.append((topic, data, self.client.publish(topic, data, qos=1)))

    def confirm_all(self, timeout: float = 60.0) -> int:
        """Wait until the broker acknowledged every message; republish stragglers. Returns the
        number of republished messages."""
        deadline = time.monotonic() + timeout
        republished = 0
        while time.monotonic() < deadline:
            pending = [i for i, (_, _, info) in enumerate(self.sent) if not _acked(info)]
            if not pending:
                return republished
            time.sleep(1.0)
            still = [i for i in pending if not _acked(self.sent[i][2])]
            if still and self.client.is_connected() and len(still) == len(pending):
                for index in still:
                    topic, data, _ = self.sent[index]
                    self.sent[index] = (topic, data, self.client.publish(topic, data, qos=1))
                    republished += 1
        raise TimeoutError("publisher: the broker did not acknowledge every message")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def kill_during(agent: AgentProcess, stream, kills: int, rng, pause_s=(0.2, 0.9)) -> int:
    """kill -9 the agent and start it again `kills` times, at random moments; returns how many
    of the kills landed while `stream` (the publishing thread) was still running."""
    during = 0
    for _ in range(kills):
        time.sleep(rng.uniform(*pause_s))
        agent.kill9()
        during += stream.is_alive()
        agent.start()
    return during


def mes_rules(topic: str = "plant1/+/mes/#", data: dict | None = None) -> list[dict]:
    """The MES 'production completed' rule; `data` replaces its data fields."""
    return [
        {
            "name": "mes-completed",
            "source": "mqtt",
            "topic": topic,
            "type": "mes.production.completed",
            "version": "1.0",
            "subject": "{payload.work_order}",
            "message_id": "payload.msg_id",
            "time": "payload.ts",
            "data": data
            or {
                "production_ref": "payload.work_order",
                "qty": {"selector": "payload.qty", "as": "number"},
                "n": "payload.n",
            },
        }
    ]


def agent_config(
    directory: Path,
    *,
    receiver_url: str,
    broker_port: int | None,
    rules: list[dict],
    client_id: str = "edge-test",
    **overrides,
) -> Path:
    document = {
        "agent": {
            "source": "plant1/gw-test",
            "data_dir": str(directory / "data"),
            "heartbeat_interval_s": 3600,
        },
        "odoo": {
            "url": receiver_url,
            "batch_size": 500,
            "timeout_s": 5,
            "backoff_base_s": 0.1,
            "backoff_max_s": 2,
            "auth_retry_s": 3600,
        },
        "store": {},
        "metrics": {"port": 0},
        "rules": rules,
    }
    if broker_port:
        document["mqtt"] = {
            "host": "127.0.0.1",
            "port": broker_port,
            "client_id": client_id,
            "backoff_max_s": 1,
        }
    for section, values in overrides.items():
        document.setdefault(section, {}).update(values)
    path = directory / "agent.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def mqtt_agent_config(
    directory: Path, broker, receiver, client_id: str, rules: list[dict] | None = None, **overrides
) -> Path:
    """An agent configuration for ``rules`` (default: the MES rules) talking to ``broker`` and
    ``receiver``, with the broker session already primed for the rules' topics."""
    rules = rules if rules is not None else mes_rules()
    config = agent_config(
        directory,
        receiver_url=receiver.url,
        broker_port=broker.port,
        rules=rules,
        client_id=client_id,
        **overrides,
    )
    prime_session(broker.port, client_id, [r["topic"] for r in rules if r["source"] == "mqtt"])
    return config


class AgentProcess:
    def __init__(self, config_path: Path, log_path: Path, api_key: str = API_KEY):
        self.config_path = config_path
        self.log_path = log_path
        self.api_key = api_key
        self.process: subprocess.Popen | None = None

    def start(self) -> AgentProcess:
        env = dict(os.environ, MFG_EDGE_API_KEY=self.api_key)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [EDGE_PYTHON, "-m", "mfg_edge.cli", "run", "-c", str(self.config_path)],
            stdout=self.log,
            stderr=self.log,
            env=env,
        )
        return self

    def kill9(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode if self.process else None


def cli(config_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, MFG_EDGE_API_KEY=API_KEY)
    return subprocess.run(
        [EDGE_PYTHON, "-m", "mfg_edge.cli", *args, "-c", str(config_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def status(config_path: Path) -> dict:
    result = cli(config_path, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
