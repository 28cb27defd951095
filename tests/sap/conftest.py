"""Fixtures of the SAP emulator's tests: the emulator in this process on a free port."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sap_harness import PASSWORD, USER, client, start_emulator


@pytest.fixture
def emulator():
    running = start_emulator(seed=42, orders=60, user=USER, password=PASSWORD, page_size=25)
    yield running
    running.stop()


@pytest.fixture
def client_for(emulator):
    """``client_for(service, **options)``: an ODataClient on the emulator."""
    return lambda service, **options: client(emulator, service, **options)
