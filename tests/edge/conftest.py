"""Fixtures for the edge agent's cross-process tests (run under .venv-edge)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from edge_harness import MOSQUITTO, Broker
from edge_receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def broker(tmp_path):
    if MOSQUITTO is None:
        pytest.skip(
            "mosquitto is not installed (setup/run.sh installs it): MQTT tests need a real broker"
        )
    server = Broker(tmp_path / "broker").start()
    yield server
    server.stop()
