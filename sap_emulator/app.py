"""The emulator's request handling, without the HTTP server: authentication (Basic, OAuth 2.0
client credentials), ``sap-client``, CSRF tokens bound to session cookies, fault switches,
routing to reads, writes, function imports and ``$batch``, and the ``/__emulator__/`` admin API."""

import base64
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote, urlsplit

from . import admin, writes
from . import data as seed_data
from .batch import BatchChangeSet, BatchError, build_response, parse_batch
from .faults import Faults
from .model import ENTITY_SETS, SERVICE_ROOT, SERVICES, metadata_xml
from .query import simple_equality
from .reads import (
    SEGMENT,
    Response,
    SapError,
    Serializer,
    bad_request,
    json_response,
    not_found,
    parse_key,
)
from .store import Store

_logger = logging.getLogger(__name__)

WRITE_METHODS = ("POST", "PUT", "PATCH", "MERGE", "DELETE")
TOKEN_PATHS = ("/sap/bc/sec/oauth2/token", "/oauth/token")
SESSION_COOKIE = "SAP_SESSIONID_EMU_{client}"


@dataclass
class Settings:
    seed: int = 42
    orders: int = 200
    sap_client: str = "100"
    user: str | None = None
    password: str | None = None
    oauth_client_id: str | None = None
    oauth_secret: str | None = None
    token_ttl_s: int = 3600
    csrf_ttl_s: int = 1800
    page_size: int = 1000
    # what a confirmation with the ExternalSystemConfirmation of an active one gets:
    # "reject" (400, business error naming the existing one) or "return" (201, the existing one)
    duplicate_confirmation: str = "reject"


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict  # lower-case names
    body: bytes = b""
    host: str = "127.0.0.1"

    @property
    def base_url(self):
        return f"http://{self.host}"

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self, service=""):
        try:
            document = json.loads(self.body or b"{}")
        except ValueError as error:
            raise bad_request(service, f"the request body is not JSON: {error}") from error
        if not isinstance(document, dict):
            raise bad_request(service, "the request body is not a JSON object")
        return document


def parse_request(method, target, headers, body, host):
    split = urlsplit(target)
    return Request(
        method=method.upper(),
        path=unquote(split.path),
        query=dict(parse_qsl(split.query, keep_blank_values=True)),
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
        host=host,
    )


class Emulator:
    def __init__(self, settings, state_path=":memory:", faults=None, clock=None):
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.store = Store(state_path, ENTITY_SETS)
        self.faults = Faults(faults)
        self.closing = threading.Event()
        self.lock = threading.Lock()  # sessions, tokens and counters
        self.sessions = {}  # session id -> (CSRF token or None, valid until)
        self.oauth_tokens = {}  # access token -> monotonic expiry
        self.counters = {}
        self.writes_accepted = 0
        if self.store.empty:
            self.reseed()

    # state

    def reseed(self):
        rows, meta = seed_data.build(self.settings.seed, self.settings.orders, self.clock())
        self.store.replace_all(rows, meta)

    def reset(self):
        """Back to the seed's data; faults, sessions and counters cleared."""
        self.reseed()
        self.faults.clear()
        with self.lock:
            self.sessions.clear()
            self.oauth_tokens.clear()
            self.counters.clear()
            self.writes_accepted = 0

    def count(self, name, amount=1):
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + amount

    def state(self):
        """Counts for tests and operators (``GET /__emulator__/state``)."""
        with self.store.lock:
            confirmations = self.store.rows("ProdnOrdConf2")
            active = [
                row for row in confirmations if not row["IsReversal"] and not row["IsReversed"]
            ]
            external = {}
            for row in active:
                if row["ExternalSystemConfirmation"]:
                    key = row["ExternalSystemConfirmation"]
                    external[key] = external.get(key, 0) + 1
            result = {
                "orders": self.store.count("A_ProductionOrder_2"),
                "released_orders": sum(
                    1 for row in self.store.rows("A_ProductionOrder_2") if row["OrderIsReleased"]
                ),
                "confirmations": len(confirmations),
                "active_confirmations": len(active),
                "cancelled_confirmations": sum(1 for row in confirmations if row["IsReversed"]),
                "external_keys": len(external),
                "external_keys_confirmed_twice": sum(1 for n in external.values() if n > 1),
                "material_documents": self.store.count("A_MaterialDocumentHeader"),
                "material_document_items": self.store.count("A_MaterialDocumentItem"),
                "stock_rows": self.store.count("A_MatlStkInAcctMod"),
                "products": self.store.count("A_Product"),
                "boms": self.store.count("MaterialBOM"),
            }
        with self.lock:
            result["requests"] = dict(self.counters)
            result["writes_accepted"] = self.writes_accepted
        result["faults_injected"] = self.faults.snapshot()["injected"]
        return result

    # entry point

    def handle(self, request):
        """A Response for ``request`` (``drop`` set: close the connection without one)."""
        try:
            return self._handle(request)
        except SapError as error:
            return error.response(self.clock)
        except Exception:  # a bug here must answer (500), not look like a dropped connection
            _logger.exception("the SAP emulator failed on %s %s", request.method, request.path)
            return SapError(
                500, "/IWBEP/CM_MGW_RT/000", "Internal error in the SAP emulator: see its log"
            ).response(self.clock)

    def _handle(self, request):
        if request.path.startswith(admin.ADMIN_ROOT):
            return admin.handle(self, request)
        if request.path in TOKEN_PATHS:
            return self._oauth_token(request)
        if not request.path.startswith(SERVICE_ROOT):
            raise not_found("", request.path)
        self.count(f"{request.method} requests")
        delay = self.faults.delay_s()
        if delay:
            self.closing.wait(delay)
        self._authenticate(request)
        self._check_client(request)
        throttled = self.faults.throttle()
        if throttled:
            status, retry_after = throttled
            return SapError(
                status,
                "/IWFND/CM_BEC/026" if status == 503 else "/IWFND/CM_CONSUMER/429",
                "Service unavailable: try again later"
                if status == 503
                else "Too many requests: the rate limit of the communication user is reached",
                headers={"Retry-After": str(retry_after)},
            ).response(self.clock)
        service, rest = self._service_of(request.path)
        if request.method == "GET":
            response = self._get(request, service, rest)
            if (request.header("x-csrf-token") or "").lower() == "fetch":
                self._issue_csrf(request, response)
            return response
        if request.method not in WRITE_METHODS:
            raise SapError(405, "/IWBEP/CM_MGW_RT/005", f"Method {request.method} not allowed")
        refused = self._check_csrf(request)
        if refused:
            return refused
        fault = self.faults.write_fault()
        if fault == "drop_before":
            return Response(drop=True)
        response = self._write(request, service, rest)
        if response.status < 400:
            with self.lock:
                self.writes_accepted += 1
        if fault == "drop_after":
            return Response(drop=True)
        if fault == "timeout":
            response.delay_s = self.faults.timeout_s()
        return response

    def _service_of(self, path):
        rest = path[len(SERVICE_ROOT) :]
        name, _, rest = rest.partition("/")
        service = SERVICES.get(name)
        if service is None:
            raise not_found(name, name)
        return service, rest

    # authentication, client, CSRF

    def _authenticate(self, request):
        settings = self.settings
        if not settings.user and not settings.oauth_client_id:
            return
        header = request.header("authorization") or ""
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic" and settings.user:
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except ValueError:
                user = password = ""
            if user == settings.user and hmac.compare_digest(password, settings.password or ""):
                return
        if scheme.lower() == "bearer" and settings.oauth_client_id:
            with self.lock:
                valid_until = self.oauth_tokens.get(credentials.strip())
            if valid_until and time.monotonic() < valid_until:
                return
        self.count("unauthorized")
        raise SapError(
            401,
            "/IWFND/CM_AUTH/001",
            "Logon failed: the user, password or token is not valid or has expired",
            headers={"WWW-Authenticate": 'Basic realm="SAP NetWeaver Application Server [EMU]"'},
        )

    def _check_client(self, request):
        client = request.query.get("sap-client") or request.header("sap-client")
        if client and client != self.settings.sap_client:
            raise SapError(
                401, "/IWFND/CM_AUTH/002", f"Client {client} is not available in this system"
            )

    def _oauth_token(self, request):
        settings = self.settings
        if request.method != "POST":
            raise SapError(405, "invalid_request", "POST the client credentials")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.header("authorization") or ""
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                client_id = secret = None
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        if (
            not settings.oauth_client_id
            or client_id != settings.oauth_client_id
            or not (hmac.compare_digest(secret or "", settings.oauth_secret or ""))
        ):
            return json_response({"error": "invalid_client"}, 401)
        token = secrets.token_urlsafe(24)
        with self.lock:
            now = time.monotonic()
            self.oauth_tokens = {t: v for t, v in self.oauth_tokens.items() if v > now}
            self.oauth_tokens[token] = now + settings.token_ttl_s
        self.count("oauth_tokens_issued")
        return json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": settings.token_ttl_s,
                "scope": "API_PRODUCTION_ORDER_2_SRV_0001",
            }
        )

    def expire_oauth_tokens(self):
        with self.lock:
            self.oauth_tokens.clear()

    def _session_id(self, request):
        name = SESSION_COOKIE.format(client=self.settings.sap_client)
        for part in (request.header("cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def _issue_csrf(self, request, response):
        session = self._session_id(request)
        token = base64.b64encode(secrets.token_bytes(18)).decode("ascii")
        with self.lock:
            if session not in self.sessions:
                session = secrets.token_hex(16)
            self.sessions[session] = (token, time.monotonic() + self.settings.csrf_ttl_s)
        self.count("csrf_tokens_issued")
        name = SESSION_COOKIE.format(client=self.settings.sap_client)
        response.headers["X-CSRF-Token"] = token
        response.headers["Set-Cookie"] = [
            f"{name}={session}; path=/; HttpOnly",
            f"sap-usercontext=sap-client={self.settings.sap_client}; path=/",
        ]

    def expire_csrf_tokens(self):
        with self.lock:
            self.sessions = {session: (None, 0) for session in self.sessions}

    def _check_csrf(self, request):
        if self.faults.csrf_expired(self.writes_accepted):
            self.expire_csrf_tokens()
        sent = request.header("x-csrf-token") or ""
        session = self._session_id(request)
        with self.lock:
            token, valid_until = self.sessions.get(session, (None, 0))
        if token and sent and hmac.compare_digest(token, sent) and time.monotonic() < valid_until:
            return None
        self.count("csrf_refused")
        return Response(
            403,
            b"CSRF token validation failed",
            {"X-CSRF-Token": "Required", "Content-Type": "text/plain; charset=utf-8"},
        )

    # reads

    def _get(self, request, service, rest):
        if rest in ("", "/"):
            return json_response({"d": {"EntitySets": [item.name for item in service.sets]}})
        if rest == "$metadata":
            return Response(
                200,
                metadata_xml(service).encode("utf-8"),
                {"Content-Type": "application/xml", "DataServiceVersion": "2.0"},
            )
        function = service.function(rest)
        if function is not None:
            raise SapError(405, "/IWBEP/CM_MGW_RT/005", f"{rest} is called with POST")
        with self.store.lock:
            return self._read(request, service, rest)

    def _read(self, request, service, rest):
        serializer = Serializer(request.base_url, service, self.store, ENTITY_SETS)
        segments = rest.split("/")
        count = segments[-1] == "$count"
        if count:
            segments = segments[:-1]
        entity_set, key = self._resolve(service, segments[0])
        if len(segments) == 1 and key is None:
            equality = simple_equality(request.query.get("$filter"), entity_set)
            if equality:
                rows = self.store.find(entity_set.name, **{equality[0]: equality[1]})
            else:
                rows = self.store.rows(entity_set.name)
            return self._collection(serializer, entity_set, rows, request, rest, count)
        row = self.store.get(entity_set.name, key)
        if row is None:
            raise not_found(service.name, segments[0])
        if len(segments) == 1:
            return serializer.single(entity_set, row, request.query)
        if len(segments) != 2 or entity_set.nav(segments[1]) is None:
            raise not_found(service.name, "/".join(segments[1:]))
        nav = entity_set.nav(segments[1])
        target = ENTITY_SETS[nav.target]
        rows = serializer.children(entity_set, row, nav)
        if not nav.many:
            return serializer.single(target, rows[0], request.query)
        return self._collection(serializer, target, rows, request, rest, count)

    def _collection(self, serializer, entity_set, rows, request, path, count):
        if count:
            counted = len(serializer.matching(entity_set, rows, request.query))
            return Response(200, str(counted).encode(), {"Content-Type": "text/plain"})
        document = serializer.collection(
            entity_set, rows, request.query, self.settings.page_size, path
        )
        return json_response(document)

    def _resolve(self, service, segment):
        match = SEGMENT.match(segment)
        entity_set = service.entity_set(match["name"]) if match else None
        if entity_set is None:
            raise not_found(service.name, segment)
        key = parse_key(entity_set, match["key"], service.name) if match["key"] else None
        return entity_set, key

    # writes

    def _write(self, request, service, rest):
        if rest == "$batch":
            return self._batch(request, service)
        try:
            with self.store.transaction():
                return self._apply(request, service, rest, request.body)
        except SapError as error:
            error.service = error.service or service.name
            return error.response(self.clock)

    def _apply(self, request, service, rest, body):
        """One write (also one operation of a changeset); raises SapError to roll back."""
        serializer = Serializer(request.base_url, service, self.store, ENTITY_SETS)
        method = request.method
        if method == "POST" and request.header("x-http-method"):
            method = request.header("x-http-method").upper()
        function = service.function(rest)
        if function is not None:
            return self._call(request, service, function, serializer)
        entity_set, key = self._resolve(service, rest)
        if method == "POST" and key is None:
            document = request.json(service.name)
            if entity_set.name == "ProdnOrdConf2":
                row, _new = writes.create_confirmation(self, entity_set, document)
                return self._created(serializer, entity_set, row)
            if entity_set.name == "A_MaterialDocumentHeader":
                header, _items = writes.create_material_document(
                    self, entity_set, ENTITY_SETS["A_MaterialDocumentItem"], document
                )
                return self._created(
                    serializer, entity_set, header, expand={"to_MaterialDocumentItem": {}}
                )
        if method in ("PATCH", "MERGE", "PUT") and key is not None and entity_set.updatable:
            row = writes.update_order(
                self, entity_set, key, request.json(service.name), request.header("if-match")
            )
            response = Response(204)
            response.headers["ETag"] = serializer_etag(entity_set, row)
            return response
        raise SapError(
            405,
            "/IWBEP/CM_MGW_RT/005",
            f"{method} is not supported on {entity_set.name}",
            service=service.name,
        )

    def _created(self, serializer, entity_set, row, expand=None):
        document = {"d": serializer.entity(entity_set, row, None, expand)}
        return json_response(document, 201, Location=serializer.uri(entity_set, row))

    def _call(self, request, service, function, serializer):
        params = {}
        for param in function.params:
            value = request.query.get(param.name)
            if value is None:
                raise bad_request(service.name, f"parameter {param.name} is missing")
            params[param.name] = value.strip("'").replace("''", "'")
        target = ENTITY_SETS[function.return_set]
        if function.name == "ReleaseOrder":
            row = writes.release_order(
                self, target, params["ManufacturingOrder"], request.header("if-match")
            )
        else:
            row = writes.cancel_confirmation(
                self, params["ConfirmationGroup"], params["ConfirmationCount"]
            )
        return serializer.single(target, row, {})

    def _batch(self, request, service):
        try:
            items = parse_batch(request.body, request.header("content-type"))
        except BatchError as error:
            raise bad_request(service.name, str(error)) from error
        results = []
        for item in items:
            if isinstance(item, BatchChangeSet):
                results.append(self._changeset(request, service, item))
                continue
            inner = self._inner_request(request, item)
            try:
                _, rest = self._service_of(inner.path)
                with self.store.lock:
                    response = self._read(inner, service, rest)
            except SapError as error:
                response = error.response(self.clock)
            results.append(("read", (item, response)))
        body, content_type = build_response(results)
        self.count("batches")
        return Response(202, body, {"Content-Type": content_type})

    def _changeset(self, request, service, changeset):
        answers = []
        try:
            with self.store.transaction():
                for operation in changeset.operations:
                    inner = self._inner_request(request, operation)
                    _, rest = self._service_of(inner.path)
                    try:
                        answers.append((operation, self._apply(inner, service, rest, inner.body)))
                    except SapError as error:
                        error.service = error.service or service.name
                        raise _RolledBack(operation, error.response(self.clock)) from error
        except _RolledBack as failure:
            self.count("changesets_rolled_back")
            return ("failed", (failure.operation, failure.response))
        return ("changeset", answers)

    def _inner_request(self, request, operation):
        path = operation.path
        if not path.startswith("/"):
            path = f"{request.path.rsplit('/', 1)[0]}/{path}"
        inner = parse_request(
            operation.method, path, operation.headers, operation.body, request.host
        )
        inner.headers.setdefault("cookie", request.header("cookie") or "")
        return inner


class _RolledBack(Exception):
    def __init__(self, operation, response):
        super().__init__(operation.path)
        self.operation = operation
        self.response = response


def serializer_etag(entity_set, row):
    from .reads import etag_of

    return etag_of(entity_set, row)
