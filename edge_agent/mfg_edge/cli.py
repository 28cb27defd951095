"""Command line: mfg-edge run | check-config | status | replay-dead | simulate | partners."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime

from . import __version__
from .config import ConfigError, api_key, load_config

DEFAULT_CONFIG = "/etc/mfg-edge/config.yaml"
# The wall clock `status` reads once (a test sets it).
wall_clock = time.time


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _when(epoch: float | None) -> str:
    if not epoch:
        return "never"
    moment = datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{moment} ({time.time() - epoch:.0f} s ago)"


def _load(path: str):
    try:
        return load_config(path)
    except ConfigError as exc:
        _err(f"{path}: configuration is invalid:")
        for error in exc.errors:
            _err(f"  {error}")
        return None


def cmd_check_config(args) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    problems = []
    try:
        api_key(config)
    except ConfigError as exc:
        problems.extend(exc.errors)
    opcua = config.opcua or {}
    if opcua.get("security_policy", "None") != "None" and not (
        opcua.get("certificate") and opcua.get("private_key")
    ):
        problems.append("/opcua: a security policy needs certificate and private_key")
    if problems:
        _err(f"{args.config}: configuration is invalid:")
        for problem in problems:
            _err(f"  {problem}")
        return 1
    kinds = {}
    for rule in config.rules:
        kinds[rule["source"]] = kinds.get(rule["source"], 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
    _out(f"{args.config}: OK (source {config.source}; {len(config.rules)} local rules: {summary})")
    urls = config.odoo_urls
    if len(urls) > 1:
        _out(
            f"Odoo nodes: {', '.join(urls)}: the first is preferred; the next is used when the"
            f" one in use does not answer; the first is tried again every"
            f" {config.odoo['failback_s']:g} s"
        )
    if config.odoo["pull_rules"]:
        _out("rules are pulled from Odoo; the local rules are the fallback")
    _report_store_sizing(config, args.rate, args.event_bytes)
    for index, rule in enumerate(config.rules):
        if rule["source"] == "mqtt" and not (rule.get("message_id") or rule.get("time")):
            # The id must survive redelivery, so it cannot use anything but the message itself.
            _out(
                f"warning: /rules/{index} ({rule['name']}): no message_id or time selector: two "
                "messages with identical payloads on one topic get the same id (one is dropped "
                "as a duplicate)"
            )
    return 0


def _measured_event_bytes(config) -> float | None:
    """Bytes per buffered event in this agent's own store, when it holds enough to tell."""
    if not config.store_path.exists():
        return None
    from .store import Store

    store = Store(config.store_path, read_only=True)
    try:
        if store.count < 1000:
            return None
        return store.bytes / store.count
    finally:
        store.close()


def _report_store_sizing(config, rate: float, event_bytes: float | None) -> None:
    """How many hours of Odoo outage the store's limits cover, and whether the disk has room."""
    from .sizing import DOCUMENTED_OUTAGE_H, TYPICAL_EVENT_BYTES, coverage, free_bytes

    origin = "given"
    if event_bytes is None:
        event_bytes = _measured_event_bytes(config)
        origin = "measured in this store"
    if event_bytes is None:
        event_bytes, origin = TYPICAL_EVENT_BYTES, "typical MES event"
    store = config.store
    covered = coverage(store["max_bytes"], store["max_events"], rate, event_bytes)
    _out(f"store sizing ({origin}): {covered.sentence()}")
    if covered.hours < DOCUMENTED_OUTAGE_H:
        _out(
            f"warning: less than {DOCUMENTED_OUTAGE_H:.0f} h: past that, telemetry is shed and "
            "transactional messages wait at the broker or in their files; raise store.max_bytes"
            + (" and store.max_events" if covered.limited_by == "max_events" else "")
        )
    free = free_bytes(config.data_dir)
    if free is not None and free < store["max_bytes"]:
        _out(
            f"warning: {config.data_dir} has {free / 1e9:.1f} GB free, less than store.max_bytes "
            f"({store['max_bytes'] / 1e9:.1f} GB): the disk fills before the store's limit"
        )


def cmd_status(args) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    if not config.store_path.exists():
        _err(f"no store at {config.store_path}: the agent has never run with this configuration")
        return 1
    from .store import Store

    store = Store(config.store_path, read_only=True)
    now = wall_clock()
    stats = store.stats(now)
    stats["drain"] = store.drain(stats["backlog"], now)
    dead = store.dead_letters(limit=args.dead_letters)
    store.close()
    if args.json:
        stats["recent_dead_letters"] = [
            {k: v for k, v in row.items() if k != "body"} for row in dead
        ]
        _out(json.dumps(stats, indent=2))
        return 0
    _out(f"mfg-edge {__version__}  source {config.source}  store {config.store_path}")
    _out(f"  backlog              {stats['backlog']} events")
    _out(f"  oldest event age     {stats['oldest_event_age_s']:.1f} s")
    _out(f"  drain rate           {_drain_rate(stats['drain'])}")
    _out(f"  backlog empty        {_empty_estimate(stats['drain'], now)}")
    _out(f"  last successful send {_when(stats['last_send_ok'])}")
    _out(f"  sender state         {stats['sender_state']}")
    if stats["auth_blocked_until"] and stats["auth_blocked_until"] > time.time():
        _out(
            f"  ALERT                Odoo refused the API key; sending stopped until "
            f"{_when(stats['auth_blocked_until'])[:20]} or a reload"
        )
    if stats["last_error"]:
        _out(f"  last error           {stats['last_error']} at {_when(stats['last_error_at'])}")
    _out(f"  dead letters         {stats['dead_letters']}")
    _out(f"  telemetry shed       {stats['events_shed_total']} events (store full)")
    _out(f"  store size           {stats['store_bytes'] / 1e6:.1f} MB")
    for row in dead:
        _out(
            f"    {row['id']}  {row['kind']:5}  {row['type'] or '-'}  {row['subject'] or '-'}  "
            f"{row['reason_code']}: {row['reason']}"
            + (f" at {row['pointer']}" if row["pointer"] else "")
        )
    return 0


def _drain_rate(drain: dict) -> str:
    if drain["sent_per_s"] is None:
        return (
            "unknown (this store has no flow figures yet: the agent has not run since its upgrade)"
        )
    return (
        f"{drain['sent_per_s']:,.1f} events/s sent, {drain['stored_per_s']:,.1f} events/s"
        f" stored (last {drain['window_s'] // 60} min)"
    )


def _empty_estimate(drain: dict, now: float) -> str:
    seconds = drain["empty_in_s"]
    if seconds == 0:
        return "now (no backlog)"
    if seconds is None:
        return "not draining (no more sent than stored in the last minutes)"
    moment = datetime.fromtimestamp(now + seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if seconds < 120:
        return f"in about {seconds:.0f} s ({moment})"
    if seconds < 2 * 3600:
        return f"in about {seconds / 60:.0f} min ({moment})"
    return f"in about {seconds / 3600:.1f} h ({moment})"


def cmd_replay_dead(args) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    if not args.all and not args.id and not args.reason:
        _err("say which dead letters to replay: --all, --id ID (repeatable) or --reason CODE")
        return 2
    if not config.store_path.exists():
        _err(f"no store at {config.store_path}")
        return 1
    from .replay import replay_dead

    report = replay_dead(config, ids=args.id or None, reason=args.reason)
    _out(
        f"{report['requested']} dead letters queued for replay (the running agent resends them "
        f"within a second; a stopped agent at its next start); "
        f"{report['still_failing']} raw messages still fit no rule"
    )
    for line in report["details"]:
        _out(f"  {line}")
    return 0 if report["still_failing"] == 0 else 1


def cmd_run(args) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    logging.basicConfig(
        level=args.log_level or config.agent["log_level"],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _quiet_libraries(args.log_level or config.agent["log_level"])
    from .agent import Agent

    try:
        agent = Agent(config)
    except ConfigError as exc:
        for error in exc.errors:
            _err(error)
        return 1
    agent.run_forever()
    # Stopped cleanly: end here rather than in the interpreter's finalization. Finalization
    # puts SIG_DFL back for signals with a Python handler (_PySignal_Fini) before it frees the
    # rest, so a late second stop signal (a supervisor's SIGINT 0.3 s after its SIGTERM, while
    # a full store's objects were being freed) ended the process by SIGINT, exit status -2.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)


def _quiet_libraries(level: str) -> None:
    # asyncua logs every request at INFO; our own lines say what matters (connected, lost, ...).
    if level != "DEBUG":
        logging.getLogger("asyncua").setLevel(logging.WARNING)


def cmd_simulate(args) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _quiet_libraries("INFO")
    from .simulator import run_simulator

    return run_simulator(args)


def cmd_partners(args) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from .partners.runner import run_partners

    return run_partners(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfg-edge", description="Plant edge agent for Odoo")
    parser.add_argument("--version", action="version", version=f"mfg-edge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(sub):
        sub.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="YAML configuration")
        return sub

    run = with_config(commands.add_parser("run", help="run the agent"))
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(func=cmd_run)
    check = with_config(commands.add_parser("check-config", help="validate a configuration"))
    check.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="events per second to size the store for (default 50, the documented rate)",
    )
    check.add_argument(
        "--event-bytes",
        type=float,
        default=None,
        help="bytes per buffered event (default: measured in the store, else 650)",
    )
    check.set_defaults(func=cmd_check_config)
    status = with_config(commands.add_parser("status", help="backlog, last send, dead letters"))
    status.add_argument("--json", action="store_true")
    status.add_argument("--dead-letters", type=int, default=10, help="how many to list")
    status.set_defaults(func=cmd_status)
    replay = with_config(commands.add_parser("replay-dead", help="resend dead letters"))
    replay.add_argument("--all", action="store_true")
    replay.add_argument("--id", action="append", default=[])
    replay.add_argument("--reason", help="only dead letters with this reason code")
    replay.set_defaults(func=cmd_replay_dead)
    simulate = commands.add_parser(
        "simulate", help="plant simulator: OPC-UA machines + a MES running Odoo's orders"
    )
    simulate.add_argument("--mqtt-host", default="127.0.0.1")
    simulate.add_argument("--mqtt-port", type=int, default=1883)
    simulate.add_argument("--topic-prefix", default="plant1/line1/mes")
    simulate.add_argument(
        "--opcua-port", type=int, default=4840, help="0 disables the OPC-UA server"
    )
    simulate.add_argument("--no-mqtt", action="store_true", help="no MES (OPC-UA only)")
    simulate.add_argument(
        "--mes-port",
        type=int,
        default=8075,
        help="port of the MES webhook Odoo releases orders to (127.0.0.1); -1: no MES",
    )
    simulate.add_argument(
        "--mes-secret-file",
        help="file holding the webhook's signing secret (else MFG_SIM_WEBHOOK_SECRET)",
    )
    simulate.add_argument(
        "--mes-state", help="JSON file keeping the MES's orders across restarts (default: none)"
    )
    simulate.add_argument("--lines", type=int, default=2, help="MES lines running orders")
    simulate.add_argument(
        "--mes-settle",
        type=float,
        default=3.0,
        help="seconds a released order waits before a line starts it (a cancel or close "
        "Odoo sends right after the release stops it first, as in a real MES's planning)",
    )
    simulate.add_argument(
        "--wait-for", help="URL the lines wait for before publishing (the edge agent's health)"
    )
    simulate.add_argument("--wait-timeout", type=float, default=120.0)
    simulate.add_argument("--interval", type=float, default=1.0, help="seconds between MES steps")
    simulate.add_argument("--seed", type=int, default=None)
    simulate.set_defaults(func=cmd_simulate)
    partners = commands.add_parser(
        "partners",
        help="demo partner systems: supplier portal, CMMS, WMS and CRM against a running Odoo",
    )
    partners.add_argument("--odoo-url", default="http://127.0.0.1:8069")
    partners.add_argument("--database", required=True, help="the demo database")
    partners.add_argument(
        "--odoo-login",
        default="admin",
        help="demo login for the reads no contract carries (password: MFG_PARTNERS_ODOO_PASSWORD, "
        "default the demo's admin)",
    )
    partners.add_argument(
        "--keys-dir", required=True, help="folder of <system code>.key and <system code>.secret"
    )
    partners.add_argument(
        "--port", type=int, default=8076, help="port of the webhook Odoo delivers to (127.0.0.1)"
    )
    partners.add_argument("--state", help="JSON file keeping the systems' memory across restarts")
    partners.add_argument("--min-interval", type=float, default=20.0, help="seconds between steps")
    partners.add_argument("--max-interval", type=float, default=60.0)
    partners.add_argument("--seed", type=int, default=None)
    partners.set_defaults(func=cmd_partners)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
