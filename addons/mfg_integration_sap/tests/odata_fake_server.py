"""A scripted HTTP server on 127.0.0.1 for the OData client tests: each test says how it
answers (``fake.handle = function(request) -> Reply``) and reads what the client sent."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    query: dict
    headers: dict
    body: bytes

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def text(self):
        return self.body.decode("utf-8")


@dataclass
class Reply:
    status: int = 200
    body: object = b""
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (ends early when the server closes)
    drop: bool = False  # close the connection without an answer


def json_reply(document, status=200, **headers):
    return Reply(status, json.dumps(document), {"Content-Type": "application/json", **headers})


def sap_error(status, code, message, details=(), **headers):
    envelope = {
        "error": {
            "code": code,
            "message": {"lang": "en", "value": message},
            "innererror": {"errordetails": list(details)},
        }
    }
    return json_reply(envelope, status, **headers)


class FakeSap:
    def __init__(self):
        self.requests = []
        self.handle = lambda request: Reply(404)
        self.closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                split = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=split.path,
                    raw_query=split.query,
                    query=dict(parse_qsl(split.query, keep_blank_values=True)),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                fake.requests.append(request)
                reply = fake.handle(request)
                if reply.delay_s:
                    fake.closing.wait(reply.delay_s)
                if reply.drop:
                    self.close_connection = True
                    return
                body = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_MERGE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a short poll interval: shutdown() waits for the loop to notice
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
