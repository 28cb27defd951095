"""A webhook receiver on 127.0.0.1 for the outbound tests: records what it got, answers
what the test scripts (status, headers, delay), and checks every signature."""

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.tests.common import _super_send

from ..services import webhook_signature


class RealTimeouts:
    """Test case mixin: requests to the local receiver keep the adapter's own (connect,
    read) timeouts, which are under test (Odoo's test harness raises any timeout under
    10 s to 10 s, and cannot read a tuple)."""

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        if request.url.startswith("http://127.0.0.1:"):
            return _super_send(session, request, **kwargs)
        return super()._request_handler(session, request, **kwargs)


class Receiver:
    def __init__(self):
        self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.requests = []  # (headers dict, parsed body, signature problem or None)
        self.script = []  # answers to give, in order: (status, headers, delay_s); then 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # headers and body leave in one segment (no wait on a delayed ACK)
            wbufsize = 65536

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                problem = webhook_signature.verify(
                    receiver.secret,
                    headers.get("webhook-id"),
                    headers.get("webhook-timestamp"),
                    body,
                    headers.get("webhook-signature"),
                )
                with receiver.lock:
                    receiver.requests.append((headers, json.loads(body), problem))
                    status, extra, delay = (
                        receiver.script.pop(0) if receiver.script else (200, {}, 0)
                    )
                if delay:
                    time.sleep(delay)
                answer = json.dumps({"status": status}).encode()
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        """Every CloudEvent received, in arrival order (batches flattened)."""
        found = []
        for _headers, body, _problem in self.requests:
            found.extend(body if isinstance(body, list) else [body])
        return found
