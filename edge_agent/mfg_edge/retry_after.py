"""Retry-After (RFC 9110 §10.2.3), read so that no answer can stall the sender: bounded, >= 0."""

from __future__ import annotations

import math
from datetime import UTC
from email.utils import parsedate_to_datetime

# The default bound of a Retry-After (odoo.retry_after_max_s): a receiver asking for more is
# asked again after this long rather than obeyed for hours, or forever with `inf`.
DEFAULT_MAX_S = 300.0


def retry_after_seconds(value: str | None, *, now: float, maximum: float) -> float | None:
    """How long a Retry-After header asks to wait, between 0 and `maximum` seconds.

    Accepts delay-seconds and the three HTTP date forms (IMF-fixdate, the obsolete RFC 850 and
    asctime, read as UTC), `now` being the wall clock in epoch seconds. None when the header is
    absent or unreadable (`nan` included): the sender's backoff alone decides. A date in the
    past or a negative number is 0; `inf`, `1e12` or a date years ahead is `maximum`."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:  # asctime carries no zone; HTTP dates are always UTC
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - now
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), maximum)
