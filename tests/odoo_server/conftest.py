import os

import pytest

from .server import OdooServer, env_or_skip


@pytest.fixture(scope="session")
def odoo_server():
    database = env_or_skip("MFG_TEST_DB")
    server = OdooServer(
        database,
        env_or_skip("MFG_ODOO_CONF"),
        env_or_skip("MFG_VENV"),
        int(os.environ.get("MFG_XPROC_HTTP_PORT", "8179")),
    )
    server.start()
    yield server
    server.stop()
