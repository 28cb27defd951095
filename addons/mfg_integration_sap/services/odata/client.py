"""OData V2 client for SAP S/4HANA: CSRF, cookies, ETags, ``$batch``, paging, auth, errors.

Plain Python on a ``requests.Session`` (which keeps SAP's session cookies, so the CSRF token
stays valid across writes). Every request carries ``sap-client`` when one is configured.
"""

import dataclasses
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

import requests
import urllib3

from . import batch as batch_format
from .errors import (
    ConnectionFailed,
    CsrfTokenRejected,
    ODataTimeout,
    classify_response,
)
from .metadata import parse_metadata
from .values import encode_json, parse_entity, string_literal

_logger = logging.getLogger(__name__)

# (connect, read) seconds: a dead host is noticed fast, a slow SAP posting gets time
DEFAULT_TIMEOUT = (5.0, 60.0)
# Characters left readable in query values: SAP's own examples write $filter like this
QUERY_SAFE = "$',:()/"


def encode_query(params):
    """A query string with spaces as ``%20`` (not ``+``) and OData's punctuation kept."""
    return urlencode(list(params.items()), quote_via=quote, safe=QUERY_SAFE)


class ODataClient:
    """One SAP OData V2 service, e.g. ``https://host/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV``.

    ``auth`` is a BasicAuth or OAuthClientCredentials (or None); ``now`` returns the aware
    current time, used to read a ``Retry-After`` given as an HTTP date.
    """

    def __init__(
        self,
        service_url,
        *,
        auth=None,
        sap_client=None,
        timeout=DEFAULT_TIMEOUT,
        session=None,
        now=None,
    ):
        self.service_url = service_url.rstrip("/") + "/"
        self.auth = auth
        self.sap_client = sap_client
        self.timeout = timeout
        self.session = session or requests.Session()
        self.now = now or (lambda: datetime.now(UTC))
        self.csrf_token = None

    # URLs

    def url(self, path, params=None, *, json_format=True):
        """Absolute URL of ``path`` (relative to the service, or absolute as in ``__next``)
        with ``sap-client`` and ``$format=json`` added when missing."""
        absolute = urljoin(self.service_url, path)
        split = urlsplit(absolute)
        service = urlsplit(self.service_url)
        if (split.scheme, split.netloc) != (service.scheme, service.netloc):
            raise ValueError(f"{absolute!r} is not on the SAP host {service.netloc!r}")
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        query.update(params or {})
        if json_format and not split.path.endswith(("$metadata", "$batch")):
            query.setdefault("$format", "json")
        if self.sap_client:
            query.setdefault("sap-client", self.sap_client)
        base = absolute.split("?", 1)[0]
        return f"{base}?{encode_query(query)}" if query else base

    # Reads

    def get_json(self, path, params=None):
        """The decoded JSON of a GET."""
        return self._request("GET", self.url(path, params)).json()

    def read_entity(self, path, *, select=None, expand=None, decimal_fields=()):
        """One entity, with its ETag (``ETag`` header or ``__metadata.etag``)."""
        url = self.url(path, _query_options(select=select, expand=expand))
        response = self._request("GET", url)
        entity = parse_entity(response.json()["d"], decimal_fields)
        return _with_header_etag(entity, response)

    def iter_pages(self, entity_set, *, params=None, decimal_fields=(), **options):
        """Lists of entities, one per page, following SAP's ``__next`` links to the end.

        ``options``: filter, select, expand, orderby, top, skip.
        """
        query = {**_query_options(**options), **(params or {})}
        url = self.url(entity_set, query)
        while url:
            document = self._request("GET", url).json()["d"]
            if isinstance(document, list):  # V1-style answer without "results"
                rows, next_link = document, None
            else:
                rows, next_link = document.get("results", []), document.get("__next")
            yield [parse_entity(row, decimal_fields) for row in rows]
            url = self.url(next_link) if next_link else None

    def iter_entities(self, entity_set, **kwargs):
        """Every entity of the query, across all pages."""
        for page in self.iter_pages(entity_set, **kwargs):
            yield from page

    def metadata(self):
        """The service's ``$metadata`` as pyodata's Schema."""
        response = self._request(
            "GET", self.url("$metadata", json_format=False), headers={"Accept": "application/xml"}
        )
        return parse_metadata(response.content)

    # Writes

    # pylint: disable-next=method-required-super  # an OData POST, not an Odoo model's create
    def create(self, entity_set, data, *, decimal_fields=()):
        """POST a new entity (deep insert when ``data`` holds navigation lists)."""
        response = self._request(
            "POST", self.url(entity_set, json_format=False), body=encode_json(data), csrf=True
        )
        return _with_header_etag(parse_entity(response.json()["d"], decimal_fields), response)

    def update(self, path, data, *, etag, method="PATCH"):
        """Change an entity read with ``etag``; the new ETag if SAP sends one.

        Raises StaleETag (412) when it changed meanwhile: re-read, re-apply, never force.
        """
        url = self.url(path, json_format=False)
        headers = {"If-Match": etag} if etag else {}
        response = self._request(method, url, body=encode_json(data), headers=headers, csrf=True)
        return response.headers.get("ETag")

    def call_function(self, name, params=None, *, method="POST", etag=None, decimal_fields=()):
        """A function import (``ReleaseOrder``...): parameters as OData literals in the query."""
        literals = {
            key: string_literal(value) if isinstance(value, str) else str(value)
            for key, value in (params or {}).items()
        }
        headers = {"If-Match": etag} if etag else {}
        response = self._request(
            method, self.url(name, literals), headers=headers, csrf=method != "GET"
        )
        if not response.content.strip():
            return None
        data = response.json()["d"]
        if isinstance(data, dict) and "results" in data:
            return [parse_entity(row, decimal_fields) for row in data["results"]]
        if isinstance(data, dict) and "__metadata" in data:
            return parse_entity(data, decimal_fields)
        return data

    def batch(self, items, *, batch_boundary=None, changeset_boundaries=None):
        """Send ChangeSets and reads in one ``$batch``; one result per item (see batch.py)."""
        body, content_type = batch_format.build_batch(
            items, batch_boundary=batch_boundary, changeset_boundaries=changeset_boundaries
        )
        response = self._request(
            "POST",
            self.url("$batch", json_format=False),
            body=body.encode("utf-8"),
            headers={"Content-Type": content_type, "Accept": "multipart/mixed"},
            csrf=True,
        )
        return batch_format.parse_batch_response(
            response.content, response.headers.get("Content-Type", ""), items, now=self.now()
        )

    # Protocol

    def fetch_csrf_token(self):
        """GET the service root with ``X-CSRF-Token: Fetch``; SAP's cookies stay in the session."""
        response = self._request("GET", self.url(""), headers={"X-CSRF-Token": "Fetch"})
        token = response.headers.get("X-CSRF-Token")
        if not token or token.lower() == "required":
            raise CsrfTokenRejected("SAP answered the CSRF token fetch without a token")
        self.csrf_token = token
        return token

    def _request(self, method, url, *, body=None, headers=None, csrf=False):
        """Send with auth and (for writes) the CSRF token; at most one new token after a 401
        and one new CSRF token after a 403 ``Required``; any other failure raised typed."""
        auth_renewed = csrf_renewed = False
        while True:
            request_headers = {"Accept": "application/json"}
            if body is not None:
                request_headers["Content-Type"] = "application/json"
            request_headers.update(headers or {})
            if self.auth is not None:
                request_headers["Authorization"] = self.auth.authorization(self.session)
            if csrf:
                request_headers["X-CSRF-Token"] = self.csrf_token or self.fetch_csrf_token()
            response = self._send(method, url, request_headers, body)
            status = response.status_code
            if (
                status == 401
                and not auth_renewed
                and self.auth is not None
                and self.auth.refresh_after_401(self.session)
            ):
                auth_renewed = True
                continue
            if csrf and status == 403 and _csrf_required(response):
                self.csrf_token = None
                if csrf_renewed:
                    raise CsrfTokenRejected(
                        "SAP rejected a freshly fetched CSRF token", status=status
                    )
                _logger.info("SAP CSRF token expired for %s %s: fetching a new one", method, url)
                csrf_renewed = True
                continue
            if status >= 400:
                raise classify_response(status, response.headers, response.text, now=self.now())
            return response

    def _send(self, method, url, headers, body):
        try:
            return self.session.request(
                method, url, headers=headers, data=body, timeout=self.timeout, allow_redirects=False
            )
        except requests.ConnectTimeout as error:
            raise ODataTimeout(f"connecting to SAP timed out: {url}") from error
        except requests.ReadTimeout as error:
            raise ODataTimeout(
                f"SAP did not answer in time: {method} {url}", maybe_applied=method != "GET"
            ) from error
        except requests.ConnectionError as error:
            sent = _request_was_sent(error)
            raise ConnectionFailed(
                f"connection to SAP {'dropped' if sent else 'failed'}: {method} {url}",
                maybe_applied=sent and method != "GET",
            ) from error


def _query_options(*, filter=None, select=None, expand=None, orderby=None, top=None, skip=None):
    options = {
        "$filter": filter,
        "$select": ",".join(select) if isinstance(select, list | tuple) else select,
        "$expand": ",".join(expand) if isinstance(expand, list | tuple) else expand,
        "$orderby": orderby,
        "$top": top,
        "$skip": skip,
    }
    return {key: str(value) for key, value in options.items() if value is not None}


def _with_header_etag(entity, response):
    header = response.headers.get("ETag")
    return dataclasses.replace(entity, etag=header) if header and not entity.etag else entity


def _csrf_required(response):
    return (response.headers.get("X-CSRF-Token") or "").lower() == "required"


def _request_was_sent(error):
    """False when no connection was made (refused, unknown host); True when it dropped later."""
    reason = error.args[0] if error.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return not isinstance(reason, urllib3.exceptions.NewConnectionError)
