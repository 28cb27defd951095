"""SAP's OData V2 error envelope parsed and classified into business and technical errors."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lxml import etree

# SAP Gateway's V2 XML error document lives in the dataservices metadata namespace.
METADATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# Statuses a retry can cure even without a message: timeout, rate limit, server side.
TECHNICAL_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    severity: str = ""
    target: str = ""


@dataclass(frozen=True)
class SapMessage:
    """What SAP said: its message code (e.g. ``CO/473``), the sentence and the details."""

    code: str = ""
    message: str = ""
    lang: str = ""
    details: tuple[ErrorDetail, ...] = field(default_factory=tuple)


class ODataError(Exception):
    """Any failure of an OData call; ``status`` is the HTTP status when there was one."""

    def __init__(self, message, *, status=None, sap=None):
        super().__init__(message)
        self.status = status
        self.sap = sap or SapMessage()

    @property
    def code(self):
        return self.sap.code


class SapBusinessError(ODataError):
    """SAP refused the request (period closed, unknown material, no authorization): a person
    or the data must change. An enqueue lock (an order a user is changing) is one too, but a
    retry a minute later cures it: services/error_classes.py classes it intermittent."""


class StaleETag(SapBusinessError):
    """412: the entity changed since it was read. Re-read it and re-apply, never overwrite."""


class PreconditionRequired(SapBusinessError):
    """428: SAP wants ``If-Match`` on this update and none was sent."""


class AuthenticationFailed(SapBusinessError):
    """401 after a fresh token or with Basic credentials: the credentials are wrong."""


class SapTechnicalError(ODataError):
    """A failure a later retry may cure; ``retry_after`` (seconds) is SAP's hint, if any."""

    def __init__(self, message, *, status=None, sap=None, retry_after=None, maybe_applied=False):
        super().__init__(message, status=status, sap=sap)
        self.retry_after = retry_after
        # True when the request reached SAP and the answer was lost: a write may have happened.
        self.maybe_applied = maybe_applied


class RateLimited(SapTechnicalError):
    """429."""


class CsrfTokenRejected(SapTechnicalError):
    """403 ``X-CSRF-Token: Required`` again right after a fresh token."""


class ODataTimeout(SapTechnicalError):
    """Connect or read timeout."""


class ConnectionFailed(SapTechnicalError):
    """No connection, or a connection dropped before the answer."""


def parse_error_body(body, content_type=""):
    """SAP's error envelope (JSON or XML) as a SapMessage, or None if the body is not one."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    text = (body or "").strip()
    if not text:
        return None
    if "xml" in (content_type or "") or text.startswith("<"):
        return _parse_xml_error(text)
    return _parse_json_error(text)


def _parse_json_error(text):
    try:
        document = json.loads(text)
    except ValueError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    if isinstance(message, dict):
        value, lang = str(message.get("value") or ""), str(message.get("lang") or "")
    else:
        value, lang = str(message or ""), ""
    inner = error.get("innererror") if isinstance(error.get("innererror"), dict) else {}
    details = tuple(
        ErrorDetail(
            code=str(item.get("code") or ""),
            message=str(item.get("message") or ""),
            severity=str(item.get("severity") or ""),
            target=str(item.get("target") or ""),
        )
        for item in inner.get("errordetails") or ()
        if isinstance(item, dict)
    )
    return SapMessage(code=str(error.get("code") or ""), message=value, lang=lang, details=details)


def _parse_xml_error(text):
    # without entities or network access: the body comes from outside (a parser per call:
    # lxml parsers must not be shared between threads)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=parser)  # noqa: S320
    except etree.XMLSyntaxError:
        return None
    if etree.QName(root).localname != "error":
        return None

    def child_text(element, name):
        found = element.find(f"{{{METADATA_NS}}}{name}")
        if found is None:
            found = element.find(name)
        return (found.text or "").strip() if found is not None else ""

    message = root.find(f"{{{METADATA_NS}}}message")
    lang = "" if message is None else message.get(f"{{{XML_NS}}}lang", "")
    details = tuple(
        ErrorDetail(
            code=child_text(detail, "code"),
            message=child_text(detail, "message"),
            severity=child_text(detail, "severity"),
            target=child_text(detail, "target"),
        )
        for detail in root.iter(f"{{{METADATA_NS}}}errordetail", "errordetail")
    )
    code, sentence = child_text(root, "code"), child_text(root, "message")
    return SapMessage(code=code, message=sentence, lang=lang, details=details)


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def classify_response(status, headers, body, *, now=None):
    """The typed error for a failed HTTP answer from SAP (``status`` >= 400)."""
    content_type = headers.get("Content-Type", "") if headers else ""
    sap = parse_error_body(body, content_type) or SapMessage()
    sentence = sap.message or f"SAP answered HTTP {status}"
    retry_after = parse_retry_after(headers.get("Retry-After") if headers else None, now)
    if status == 412:
        return StaleETag(sentence, status=status, sap=sap)
    if status == 428:
        return PreconditionRequired(sentence, status=status, sap=sap)
    if status == 401:
        return AuthenticationFailed(sentence, status=status, sap=sap)
    if status == 429:
        return RateLimited(sentence, status=status, sap=sap, retry_after=retry_after)
    if status >= 500 or status in TECHNICAL_4XX:
        return SapTechnicalError(sentence, status=status, sap=sap, retry_after=retry_after)
    return SapBusinessError(sentence, status=status, sap=sap)
