"""The error class of every reason code the SAP flows raise, registered with the framework,
and of SAP's answers to the adapter's calls.

SAP refuses with a message code (``CO/473``) and a sentence. An enqueue lock (a user or a
job is changing the order) is a business answer that is gone a minute later: intermittent,
so the outbox retries it within the contract's attempts before a person sees it.
"""

import re

from odoo.addons.mfg_integration_base.services.error_classes import register_reason_classes

from .odata.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    CsrfTokenRejected,
    ODataTimeout,
    RateLimited,
    SapBusinessError,
)

REASON_CLASSES = {
    "quantity_invalid": "value",
    "order_quantity_below_done": "value",
    "order_product_changed": "business_rule",
    "order_closed": "business_rule",
}

# SAP's message codes of an enqueue lock ("Order 1000004 is currently being processed by
# user PLANNER01"); other languages' sentences are caught by the code and by HTTP 423.
LOCK_MESSAGES = frozenset({"CO/473"})
LOCK_STATUS = 423
_LOCK_SENTENCE = re.compile(r"\b(?:locked|being processed) by\b", re.IGNORECASE)

# SAP's refusals of confirmations and goods movements, by message code (as the SAP emulator
# answers them, after S/4HANA's): what a person must fix.
SAP_MESSAGE_CLASSES = {
    # the order, operation, material, plant or storage location does not exist in SAP
    "CO/004": "missing_reference",
    "M7/155": "missing_reference",
    "RU/116": "missing_reference",
    "RU/110": "missing_reference",
    "M3/305": "missing_reference",
    "M7/001": "missing_reference",
    "M7/018": "missing_reference",
    # a value of the request SAP cannot take
    "M7/010": "value",
    "M7/035": "value",
    "M7/036": "value",
    "M7/046": "value",
    "M7/079": "value",
    "M7/089": "value",
    "RU/221": "value",
    "RU/302": "value",
    # SAP's state refuses it: period closed, order not released, no stock, already cancelled
    "M7/053": "business_rule",
    "M7/021": "business_rule",
    "M7/431": "business_rule",
    "CO/180": "business_rule",
    "RU/141": "business_rule",
    "RU/172": "business_rule",
    # SAP already holds a confirmation with this external key
    "RU/505": "duplicate",
}


def is_lock(error):
    """SAP refused because a user or a job holds the object's enqueue lock."""
    sap = error.sap
    sentences = [sap.message or str(error), *(detail.message for detail in sap.details)]
    return (
        error.status == LOCK_STATUS
        or sap.code in LOCK_MESSAGES
        or any(_LOCK_SENTENCE.search(sentence) for sentence in sentences if sentence)
    )


def error_class_of(error):
    """The error class of a failed SAP call (an ODataError), or None where its HTTP status
    says it (a 5xx is intermittent)."""
    if isinstance(error, RateLimited):
        return "rate_limited"
    # wrong credentials, a session that cannot keep a CSRF token, no answer: the connection
    if isinstance(
        error, AuthenticationFailed | CsrfTokenRejected | ODataTimeout | ConnectionFailed
    ):
        return "connection"
    if isinstance(error, SapBusinessError):
        if is_lock(error):
            return "intermittent"
        return SAP_MESSAGE_CLASSES.get(error.code)
    return None


register_reason_classes(REASON_CLASSES)
