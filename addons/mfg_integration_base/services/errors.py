"""Exceptions that handlers raise to tell the framework what kind of failure happened.

Anything else a handler raises is treated as a technical error and retried with backoff.
"""


class IntegrationError(Exception):
    """Base class of the failures the framework knows how to route."""


class BusinessError(IntegrationError):
    """A failure a person must look at: retrying blindly would fail the same way.

    :param reason_code: short machine code, e.g. ``mapping_missing``, ``order_closed``
    :param message: a sentence in business words a planner understands
    :param suggested_action: what the planner should do about it
    :param key_fields: the business keys that identify the failure (used for grouping)
    """

    def __init__(
        self, reason_code, message, suggested_action=None, key_fields=None, error_class=None
    ):
        """:param error_class: one of services/error_classes.py's classes; a retryable one
        (intermittent, connection, rate_limited) is retried within the contract's attempts
        before a person sees it. Default: derived from the reason code."""
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message
        self.suggested_action = suggested_action or ""
        self.key_fields = dict(key_fields or {})
        self.error_class = error_class


class MappingMissing(BusinessError):
    """An external code has no mapping to an Odoo record for this system."""

    def __init__(self, system_name, kind, kind_label, external_code):
        super().__init__(
            "mapping_missing",
            f"{kind_label} code '{external_code}' from {system_name} has no mapping",
            suggested_action=(
                f"Create a {kind_label.lower()} mapping for '{external_code}', "
                "then retry: every event waiting on this code is retried."
            ),
            key_fields={"kind": kind, "external_code": external_code},
        )
        self.kind = kind
        self.external_code = external_code


class PrerequisiteMissing(IntegrationError):
    """The event refers to something that has not arrived yet; it waits (bounded) and retries."""

    def __init__(self, message, key_fields=None, reason_code=None, suggested_action=None):
        """:param reason_code, suggested_action: the exception a person gets when the wait
        ends without the prerequisite (default ``prerequisite_missing`` and a generic hint)."""
        super().__init__(message)
        self.message = message
        self.key_fields = dict(key_fields or {})
        self.reason_code = reason_code
        self.suggested_action = suggested_action
