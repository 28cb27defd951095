"""`mfg-edge partners`: run the demo partner systems against a running Odoo.

One webhook port for Odoo's outbound events (``/<system code>/events``, each system with its
own signing secret), and one thread per system that takes a step every 20-60 s (seeded) and
posts its message with the system's API key. Keys and secrets are read from
``--keys-dir`` (``<code>.key``, ``<code>.secret``, mode 0600, written by setup/run.sh).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
import urllib.error
import xmlrpc.client

from ..webhooks import Route, WebhookReceiver
from .odoo import DemoReader, OdooRefused, post_events
from .systems import Cmms, Crm, PartnerState, SupplierPortal, Wms

_logger = logging.getLogger(__name__)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read().strip()
    except OSError:
        return ""


class Pacer(threading.Thread):
    """Takes one step of one system every ``interval`` (a seeded uniform draw)."""

    def __init__(self, system, url, api_key, secret, interval, rng, stop):
        super().__init__(name=system.code, daemon=True)
        self.system = system
        self.url = url
        self.api_key = api_key
        self.secret = secret
        self.interval = interval
        self.rng = rng
        self.stop = stop
        self.posted = 0

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(*self.interval)):
            try:
                self.take_step()
            except (OSError, OdooRefused, urllib.error.URLError) as error:
                _logger.warning("%s: Odoo is not reachable or refused: %s", self.system.name, error)
            except Exception:  # a demo process must go on; the trace says what to fix
                _logger.exception("%s: step failed", self.system.name)

    def take_step(self) -> None:
        planned = self.system.step()
        if planned is None:
            return
        event, memo = planned
        result = post_events(self.url, self.api_key, self.secret, [event])[0]
        status = result.get("status")
        _logger.info(
            "%s: %s %s -> %s%s",
            self.system.name,
            event["type"],
            event["subject"],
            status,
            f" ({result.get('error')})" if status == "rejected" else "",
        )
        if status in ("accepted", "duplicate"):
            self.system.sent(memo)
            self.posted += 1


def run_partners(args) -> int:
    stop = threading.Event()
    seed = args.seed
    # names this memory's events (kept in the state): a memory started afresh never reuses the
    # ids of an earlier one, whose data Odoo would refuse under the same id
    run = f"{seed}-{int(time.time())}"
    if args.state:
        os.makedirs(os.path.dirname(os.path.abspath(args.state)), exist_ok=True)
    reader = DemoReader(
        args.odoo_url,
        args.database,
        args.odoo_login,
        os.environ.get("MFG_PARTNERS_ODOO_PASSWORD", "admin"),
    )
    try:
        database = f"{args.database}:{reader.database_uuid()}"
    except (OSError, OdooRefused, xmlrpc.client.Error) as error:
        _logger.error(
            "partner systems: cannot read %s at %s: %s", args.database, args.odoo_url, error
        )
        return 2
    state = PartnerState(args.state, database, run)
    rng = random.Random(seed)
    systems = [
        SupplierPortal(state, random.Random(rng.random()), reader),
        Cmms(state, random.Random(rng.random()), reader),
        Wms(state, random.Random(rng.random())),
        Crm(state, random.Random(rng.random())),
    ]
    credentials = {}
    for system in systems:
        key = _read(os.path.join(args.keys_dir, f"{system.code}.key"))
        secret = _read(os.path.join(args.keys_dir, f"{system.code}.secret"))
        if not (key and secret):
            _logger.error(
                "%s: no API key or signing secret in %s (%s.key, %s.secret)",
                system.name,
                args.keys_dir,
                system.code,
                system.code,
            )
            return 2
        credentials[system.code] = (key, secret)
    routes = {
        f"/{system.code}/events": Route(credentials[system.code][1], system.apply, system.name)
        for system in systems
    }
    receiver = WebhookReceiver(routes, "127.0.0.1", args.port)
    receiver.start()
    interval = (args.min_interval, args.max_interval)
    pacers = [
        Pacer(
            system,
            args.odoo_url,
            *credentials[system.code],
            interval,
            random.Random(rng.random()),
            stop,
        )  # fmt: skip
        for system in systems
    ]
    for pacer in pacers:
        pacer.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    _logger.info(
        "partner systems: supplier portal, CMMS, WMS and CRM of %s at %s, a step every %s-%s s",
        args.database,
        args.odoo_url,
        *interval,
    )
    while not stop.wait(1):
        pass
    receiver.close()
    for pacer in pacers:
        pacer.join(5)
    state.save()
    _logger.info(
        "partner systems stopped: %s messages posted, %s received",
        sum(pacer.posted for pacer in pacers),
        receiver.received,
    )
    return 0
