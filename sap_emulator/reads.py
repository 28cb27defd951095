"""Resource paths, SAP's error envelope and the JSON of entities and collections: ``d``,
``d.results``, ``__metadata``, ``__deferred``, ``__next``, ``__count``, ``$select``, ``$expand``."""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from .model import SERVICE_ROOT
from .query import QueryError, compile_filter, sort_rows
from .values import BadValue, literal_value

SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>.*)\))?$")
QUERY_SAFE = "$',:()/"
# what SAP sends for a field never filled: initial values, not null (dates stay null)
EMPTY = {"Edm.String": "", "Edm.Boolean": False, "Edm.Decimal": "0"}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0  # answer only after this long (the client has timed out by then)
    drop: bool = False  # close the connection without an answer


class SapError(Exception):
    """An answer in SAP's error envelope."""

    def __init__(self, status, code, message, *, target="", headers=None, service=""):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}
        self.service = service

    def response(self, clock):
        stamp = f"{clock().astimezone(UTC):%Y%m%d%H%M%S}.0000000"
        envelope = {
            "error": {
                "code": self.code,
                "message": {"lang": "en", "value": self.message},
                "innererror": {
                    "application": {
                        "component_id": "",
                        "service_namespace": "/SAP/",
                        "service_id": self.service.split(";", 1)[0],
                        "service_version": "0001",
                    },
                    "transactionid": "E0F2C1B2A3D4E5F60718293A4B5C6D7E",
                    "timestamp": stamp,
                    "Error_Resolution": {
                        "SAP_Transaction": "For backend administrators: use ADT feed reader "
                        '"SAP Gateway Error Log" or run transaction /IWFND/ERROR_LOG',
                        "SAP_Note": "See SAP Note 1797736 for error analysis "
                        "(https://service.sap.com/sap/support/notes/1797736)",
                    },
                    "errordetails": [
                        {
                            "code": self.code,
                            "message": self.message,
                            "propertyref": "",
                            "severity": "error",
                            "target": self.target,
                        }
                    ],
                },
            }
        }
        return json_response(envelope, self.status, **self.headers)


def json_response(document, status=200, **headers):
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/json; charset=utf-8", **headers})


def not_found(service, what):
    return SapError(
        404, "/IWBEP/CM_MGW_RT/020", f"Resource not found for segment '{what}'", service=service
    )


def bad_request(service, message, code="/IWBEP/CM_MGW_RT/004"):
    return SapError(400, code, message, service=service)


def parse_key(entity_set, text, service):
    """The key tuple of ``('1000001')`` or ``(K1='a',K2='b')`` (values in key order)."""
    parts, current, quoted = [], "", False
    for char in text:
        if char == "'":
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    try:
        if len(parts) == 1 and "=" not in parts[0].split("'", 1)[0]:
            if len(entity_set.keys) != 1:
                raise bad_request(service, f"{entity_set.name} has a key of several properties")
            return (str(literal_value(parts[0].strip())),)
        named = {}
        for part in parts:
            name, _, value = part.partition("=")
            named[name.strip()] = str(literal_value(value.strip()))
    except BadValue as error:
        raise bad_request(service, f"invalid key predicate: {error}") from error
    if set(named) != set(entity_set.keys):
        raise bad_request(service, f"the key of {entity_set.name} is {', '.join(entity_set.keys)}")
    return tuple(named[name] for name in entity_set.keys)


def key_predicate(entity_set, row):
    def literal(value):
        return "'" + quote(str(value).replace("'", "''"), safe="") + "'"

    if len(entity_set.keys) == 1:
        return f"({literal(row[entity_set.keys[0]])})"
    return "(" + ",".join(f"{name}={literal(row[name])}" for name in entity_set.keys) + ")"


def etag_of(entity_set, row):
    """SAP's weak ETag from the change stamp; the version makes two changes in one second
    differ (``W/"'20261123081502.0000002'"``)."""
    if not entity_set.etag_prop:
        return None
    return f"W/\"'{row.get(entity_set.etag_prop)}.{row.get('__version', 1):07d}'\""


def parse_expand(text):
    """``to_A,to_A/to_B`` as a tree {nav: subtree}."""
    tree = {}
    for path in filter(None, (part.strip() for part in (text or "").split(","))):
        node = tree
        for name in path.split("/"):
            node = node.setdefault(name, {})
    return tree


class Serializer:
    """Entities as SAP Gateway writes them, with absolute URIs on ``base_url``."""

    def __init__(self, base_url, service, store, entity_sets):
        self.root = f"{base_url}{SERVICE_ROOT}{service.name}/"
        self.service = service
        self.store = store
        self.entity_sets = entity_sets

    def uri(self, entity_set, row):
        return f"{self.root}{entity_set.name}{key_predicate(entity_set, row)}"

    def children(self, entity_set, row, nav):
        values = {child: row[parent] for parent, child in nav.pairs}
        return self.store.find(nav.target, **values)

    def entity(self, entity_set, row, select=None, expand=None):
        uri = self.uri(entity_set, row)
        metadata = {
            "id": uri,
            "uri": uri,
            "type": f"{self.service.namespace}.{entity_set.type_name}",
        }
        etag = etag_of(entity_set, row)
        if etag:
            metadata["etag"] = etag
        document = {"__metadata": metadata}
        for prop in entity_set.props:
            if select is None or prop.name in select:
                value = row.get(prop.name)
                document[prop.name] = EMPTY.get(prop.edm) if value is None else value
        expand = expand or {}
        for nav in entity_set.navs:
            if nav.name in expand:
                target = self.entity_sets[nav.target]
                rows = self.children(entity_set, row, nav)
                inner = [self.entity(target, child, None, expand[nav.name]) for child in rows]
                document[nav.name] = {"results": inner} if nav.many else (inner or [None])[0]
            elif select is None or nav.name in select:
                document[nav.name] = {"__deferred": {"uri": f"{uri}/{nav.name}"}}
        return document

    def matching(self, entity_set, rows, query):
        """The rows ``$filter`` keeps, in ``$orderby``'s order."""
        try:
            predicate = compile_filter(query.get("$filter"), entity_set)
            if predicate:
                rows = [row for row in rows if predicate(row)]
            return sort_rows(rows, query.get("$orderby"), entity_set)
        except (QueryError, BadValue) as error:
            raise bad_request(self.service.name, str(error)) from error

    def collection(self, entity_set, rows, query, page_size, path):
        """``d`` of a collection request: filter, order, $skip/$top, one page and ``__next``."""
        rows = self.matching(entity_set, rows, query)
        try:
            skip, top = _int_option(query, "$skip", 0), _int_option(query, "$top", None)
            offset = _int_option(query, "$skiptoken", 0)
        except QueryError as error:
            raise bad_request(self.service.name, str(error)) from error
        total = len(rows)
        window = rows[skip : skip + top if top is not None else None]
        page = window[offset : offset + page_size]
        select, expand = _select(query.get("$select")), parse_expand(query.get("$expand"))
        self._check_expand(entity_set, expand)
        document = {"results": [self.entity(entity_set, row, select, expand) for row in page]}
        if query.get("$inlinecount") == "allpages":
            document["__count"] = str(total)
        if offset + page_size < len(window):
            next_query = {
                name: value for name, value in query.items() if name not in ("$skiptoken",)
            }
            next_query["$skiptoken"] = str(offset + page_size)
            encoded = urlencode(list(next_query.items()), quote_via=quote, safe=QUERY_SAFE)
            document["__next"] = f"{self.root}{path}?{encoded}"
        return {"d": document}

    def _check_expand(self, entity_set, expand):
        for name, subtree in expand.items():
            nav = entity_set.nav(name)
            if nav is None:
                raise bad_request(
                    self.service.name, f"{entity_set.name} has no navigation property {name!r}"
                )
            self._check_expand(self.entity_sets[nav.target], subtree)

    def single(self, entity_set, row, query):
        select, expand = _select(query.get("$select")), parse_expand(query.get("$expand"))
        self._check_expand(entity_set, expand)
        headers = {}
        etag = etag_of(entity_set, row)
        if etag:
            headers["ETag"] = etag
        return json_response({"d": self.entity(entity_set, row, select, expand)}, **headers)


def _select(text):
    if not text or text.strip() == "*":
        return None
    return {part.strip() for part in text.split(",") if part.strip()}


def _int_option(query, name, default):
    value = query.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise QueryError(f"{name} must be a whole number, not {value!r}")
    return int(value)


def now_utc():
    return datetime.now(UTC)
