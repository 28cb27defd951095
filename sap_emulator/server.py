"""The emulator's HTTP server (HTTP/1.1 keep-alive, one thread per connection) and
``start_emulator`` for tests::

    emulator = start_emulator(port=0, seed=42, orders=200)
    client = ODataClient(emulator.service_url("API_PRODUCTION_ORDER_2_SRV"), sap_client="100")
    emulator.set_faults(burst_count=2, burst_status=503)
    emulator.state()["active_confirmations"]
    emulator.stop()
"""

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import admin
from .app import Emulator, Settings, parse_request
from .model import SERVICE_ROOT

_logger = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SAP"
    sys_version = ""

    def setup(self):
        super().setup()
        # headers and body leave in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every keep-alive answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        _logger.debug("%s %s", self.address_string(), format % args)

    def _serve(self):
        emulator = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = parse_request(self.command, self.path, dict(self.headers.items()), body, host)
        response = emulator.handle(request)
        if response.drop:
            # close without an answer: the client cannot know whether the write happened
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if response.delay_s:
            emulator.closing.wait(response.delay_s)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                for item in value if isinstance(value, list) else [value]:
                    self.send_header(name, item)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("sap-server", "true")
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a timeout fault)

    do_GET = do_POST = do_PUT = do_PATCH = do_MERGE = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class RunningEmulator:
    """A started emulator: its URL, its data and fault switches, and ``stop``."""

    def __init__(self, emulator, server, thread):
        self.emulator = emulator
        self.server = server
        self.thread = thread

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def service_url(self, service):
        return f"{self.url}{SERVICE_ROOT}{service}/"

    @property
    def store(self):
        return self.emulator.store

    def set_faults(self, **switches):
        self.emulator.faults.update(switches)

    def clear_faults(self):
        self.emulator.faults.clear()

    def state(self):
        return self.emulator.state()

    def reset(self):
        self.emulator.reset()

    def expire_csrf_tokens(self):
        self.emulator.expire_csrf_tokens()

    def expire_oauth_tokens(self):
        self.emulator.expire_oauth_tokens()

    def change_order(self, number, **changes):
        return admin.change_order(self.emulator, number, changes)

    def create_order(self, material="FG-BRK100", quantity="50", released=True):
        return admin.create_order(self.emulator, material, quantity, released)

    def confirmations(self, **values):
        """Confirmations (rows as SAP sends them) whose fields equal ``values``."""
        with self.store.lock:
            if values:
                return self.store.find("ProdnOrdConf2", **values)
            return self.store.rows("ProdnOrdConf2")

    def stop(self):
        self.emulator.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.emulator.store.close()


def start_emulator(
    *,
    host="127.0.0.1",
    port=0,
    state=":memory:",
    faults=None,
    clock=None,
    **settings,
):
    """A running emulator on ``host:port`` (0: a free port); ``settings`` as in app.Settings
    (seed, orders, sap_client, user, password, oauth_client_id, oauth_secret, page_size...)."""
    emulator = Emulator(Settings(**settings), str(state), faults=faults, clock=clock)
    server = _Server((host, port), _Handler)
    server.emulator = emulator
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return RunningEmulator(emulator, server, thread)
