"""``python -m sap_emulator``: the SAP emulator as a process (the demo starts it this way).

    .venv/bin/python -m sap_emulator --port 8078 --seed 42 --state run/sap/state.sqlite \\
        --user MFG_COMM_USER --password-file run/sap/emulator_password --sap-client 100
"""

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .app import Settings
from .faults import FaultError
from .server import start_emulator

_logger = logging.getLogger("sap_emulator")


def _secret(path, what):
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SystemExit(f"cannot read the {what} file {path}: {error.strerror}") from error
    if not value:
        raise SystemExit(f"the {what} file {path} is empty")
    return value


def parse_args(argv):
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m sap_emulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8078)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the data set")
    parser.add_argument(
        "--state", default=":memory:", help="SQLite file: kept across restarts (default in memory)"
    )
    parser.add_argument("--orders", type=int, default=defaults.orders, help="orders in a new state")
    parser.add_argument("--sap-client", default=defaults.sap_client)
    parser.add_argument("--user", help="Basic auth communication user (no auth without it)")
    parser.add_argument("--password-file", help="file holding the user's password")
    parser.add_argument("--oauth-client-id", help="OAuth 2.0 client credentials: client id")
    parser.add_argument("--oauth-secret-file", help="file holding the OAuth client secret")
    parser.add_argument("--oauth-token-ttl", type=int, default=defaults.token_ttl_s, help="s")
    parser.add_argument("--csrf-ttl", type=int, default=defaults.csrf_ttl_s, help="seconds")
    parser.add_argument("--page-size", type=int, default=defaults.page_size)
    parser.add_argument(
        "--duplicate-confirmation",
        choices=("reject", "return"),
        default=defaults.duplicate_confirmation,
        help="answer to a confirmation whose ExternalSystemConfirmation is already confirmed",
    )
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--jitter-ms", type=int, default=0)
    parser.add_argument(
        "--faults", help='more fault switches as JSON, e.g. \'{"rate_503": 0.05, "seed": 7}\''
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.user and not args.password_file:
        parser.error("--user needs --password-file")
    if args.oauth_client_id and not args.oauth_secret_file:
        parser.error("--oauth-client-id needs --oauth-secret-file")
    if args.page_size < 1:
        parser.error("--page-size must be at least 1")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    faults = {"latency_ms": args.latency_ms, "jitter_ms": args.jitter_ms}
    try:
        faults.update(json.loads(args.faults) if args.faults else {})
    except ValueError as error:
        raise SystemExit(f"--faults is not JSON: {error}") from error
    if args.state != ":memory:":
        Path(args.state).parent.mkdir(parents=True, exist_ok=True)
    try:
        running = start_emulator(
            host=args.host,
            port=args.port,
            state=args.state,
            faults=faults,
            seed=args.seed,
            orders=args.orders,
            sap_client=args.sap_client,
            user=args.user,
            password=_secret(args.password_file, "password") if args.user else None,
            oauth_client_id=args.oauth_client_id,
            oauth_secret=_secret(args.oauth_secret_file, "OAuth secret")
            if args.oauth_client_id
            else None,
            token_ttl_s=args.oauth_token_ttl,
            csrf_ttl_s=args.csrf_ttl,
            page_size=args.page_size,
            duplicate_confirmation=args.duplicate_confirmation,
        )
    except FaultError as error:
        raise SystemExit(f"--faults: {error}") from error
    except OSError as error:
        raise SystemExit(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from error
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    state = running.state()
    _logger.info(
        "SAP emulator on %s (sap-client %s, %s orders, state %s, auth %s)",
        running.url,
        args.sap_client,
        state["orders"],
        args.state,
        "Basic" if args.user else "OAuth" if args.oauth_client_id else "none",
    )
    stopped.wait()
    _logger.info("stopping the SAP emulator")
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
