"""Error classes of exceptions: what kind of failure, in the words integration consoles use.

The framework sets the class of every exception it opens (from the reason code, the HTTP
status of a delivery, or the technical error's text); a handler or an adapter can name it
(``BusinessError(..., error_class="intermittent")``, ``Outcome(..., error_class=...)``).
Failures of the retryable classes are retried within the contract's attempts before a
person sees them, even when a handler raised them as business errors (an order locked in
SAP by a user is a business answer that is gone a minute later).
"""

import re

ERROR_CLASSES = [
    ("value", "Wrong value"),
    ("missing_reference", "Missing reference"),
    ("connection", "Connection"),
    ("intermittent", "Intermittent"),
    ("rate_limited", "Rate limited"),
    ("too_large", "Too large"),
    ("parse", "Unreadable message"),
    ("duplicate", "Duplicate"),
    ("business_rule", "Business rule"),
    ("program", "Program error"),
]
CLASS_CODES = frozenset(code for code, _label in ERROR_CLASSES)
# Retried by themselves within the contract's attempts before an exception opens.
RETRYABLE_CLASSES = frozenset({"connection", "intermittent", "rate_limited"})

REASON_CLASSES = {
    "mapping_missing": "missing_reference",
    "prerequisite_missing": "missing_reference",
    "order_unknown": "missing_reference",
    "value_out_of_range": "value",
    "schema_invalid": "value",
    "idempotency_key_reused": "duplicate",
    "circuit_open": "connection",
    "sor_conflict": "business_rule",
    "odoo_refused": "business_rule",
    "no_handler": "program",
}

_CONNECTION = re.compile(
    r"ConnectionError|Connection refused|ConnectTimeout|ReadTimeout|timed out|Timeout|"
    r"NewConnectionError|RemoteDisconnected|Connection reset|Name or service not known|"
    r"Max retries exceeded|SSLError",
    re.IGNORECASE,
)
_INTERMITTENT = re.compile(
    r"SerializationFailure|could not serialize|LockNotAvailable|deadlock|"
    r"could not obtain lock|TransactionRollbackError",
    re.IGNORECASE,
)
_PARSE = re.compile(r"JSONDecodeError|Expecting value|UnicodeDecodeError|malformed", re.I)


def classify(reason_code=None, category=None, details="", http_status=None, explicit=None):
    """The error class of a failure (one of ERROR_CLASSES' codes)."""
    if explicit in CLASS_CODES:
        return explicit
    if http_status:
        if http_status == 429:
            return "rate_limited"
        if http_status == 413:
            return "too_large"
        if http_status == 409:
            return "duplicate"
        if http_status in (408, 425) or http_status >= 500:
            return "intermittent"
        if http_status in (400, 422):
            return "value"
        if http_status in (401, 403, 404, 405):
            return "connection" if http_status != 404 else "missing_reference"
    if reason_code in REASON_CLASSES:
        return REASON_CLASSES[reason_code]
    if category == "technical":
        text = details or ""
        if _CONNECTION.search(text):
            return "connection"
        if _INTERMITTENT.search(text):
            return "intermittent"
        if _PARSE.search(text):
            return "parse"
        return "program"
    return "business_rule"
