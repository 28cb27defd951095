"""Error classes of exceptions: what kind of failure, in the words integration consoles use.

The framework sets the class of every exception it opens (from the reason code, the HTTP
status of a delivery, or the technical error's text); a handler or an adapter can name it
(``BusinessError(..., error_class="intermittent")``, ``Outcome(..., error_class=...)``).
Failures of the retryable classes are retried within the contract's attempts before a
person sees them, even when a handler raised them as business errors (an order locked in
SAP by a user is a business answer that is gone a minute later).

Each addon names the class of the reason codes it raises, in one place, at import::

    register_reason_classes({"lot_unknown": "missing_reference", "lot_on_hold": "business_rule"})

A reason code nobody registered is a business rule. There is no guess from the code's
name: ``lot_missing`` of a WMS message that names no lot is a wrong value, not a missing
reference.
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

# The framework's own reason codes; the addons' are added by register_reason_classes().
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

_registered_classes = dict(REASON_CLASSES)


def register_reason_classes(classes):
    """Name the error class of reason codes an addon raises: {reason code: class code}.

    A reason code means one kind of failure whichever addon raises it: registering it again
    with the same class is fine, with another class is refused (as is an unknown class).
    """
    for reason_code, error_class in classes.items():
        if error_class not in CLASS_CODES:
            raise ValueError(
                f"Reason code '{reason_code}': '{error_class}' is not an error class "
                f"(one of {', '.join(sorted(CLASS_CODES))})"
            )
        known = _registered_classes.get(reason_code, error_class)
        if known != error_class:
            raise ValueError(
                f"Reason code '{reason_code}' is already of class '{known}', not '{error_class}'"
            )
    _registered_classes.update(classes)


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
    """The error class of a failure (one of ERROR_CLASSES' codes): the class its raiser
    named, else the HTTP status's, else the reason code's (registered), else read from a
    technical error's text, else a business rule."""
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
    if reason_code in _registered_classes:
        return _registered_classes[reason_code]
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
