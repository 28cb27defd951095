"""Shared by the in-process benchmarks: a scratch copy of an installed database and an
Odoo environment on it."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def scratch_copy(source, scratch):
    """(Re)create ``scratch`` as a copy of ``source`` (which must have no open sessions)."""
    subprocess.run(["dropdb", "--if-exists", scratch], check=True)
    done = subprocess.run(
        ["createdb", "-T", source, scratch], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(
            f"Could not copy {source} to {scratch}: {done.stderr.strip()}\n"
            f"(stop the server using {source}, or pass --source-db another installed database)"
        )


def drop(scratch):
    if "odoo.sql_db" in sys.modules:
        sys.modules["odoo.sql_db"].close_db(scratch)  # the registry's pooled connections
    subprocess.run(["dropdb", "--if-exists", scratch], check=False)


@contextlib.contextmanager
def odoo_env(database, conf):
    """An Environment (superuser) on ``database``; commits when the block ends normally."""
    import odoo
    from odoo.modules.registry import Registry
    from odoo.tools import config

    if getattr(config, "rcfile", None) != os.path.abspath(conf):  # parsed once per process
        config.parse_config(["-c", str(conf), "--no-http", "--log-level=warn"])
    registry = Registry(database)
    with registry.cursor() as cr:
        yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
