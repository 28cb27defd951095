"""Outbound delivery decisions: classify an answer, the next retry delay, circuit breaker.

Plain functions with no ORM state, so each rule is unit-tested without a database.
"""

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime

from .backoff import backoff_delay

# 4xx answers that say "not now" rather than "never": retried like 5xx.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 409, 425, 429})
# A Retry-After further away than this is a misconfigured receiver: capped.
RETRY_AFTER_CAP_SECONDS = 86400
SUMMARY_LIMIT = 500


@dataclass(frozen=True)
class Outcome:
    """What became of one outbound event in one delivery attempt.

    ``status``: delivered, business (the receiver refused it: a person decides),
    technical (retry later) or skipped (not attempted: an earlier event of its subject
    failed in the same round, or the round ended).
    """

    status: str
    http_status: int | None = None
    summary: str = ""
    retry_after: float | None = None
    # services/error_classes.py; None: derived from the HTTP status
    error_class: str | None = None

    @property
    def reached(self):
        """The receiver answered with a decision: it is up, whatever it said."""
        return self.status in ("delivered", "business")


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        now = now or datetime.now(UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def summarise_body(body, limit=SUMMARY_LIMIT):
    text = " ".join((body or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def classify_response(status_code, headers=None, body="", now=None):
    """The :class:`Outcome` of an HTTP answer.

    2xx delivered; 408/409/425/429 and 5xx technical (retried, honouring Retry-After);
    any other answer (other 4xx, a redirect we do not follow) is a business failure: the
    receiver refused this event and will refuse it again until a person acts.
    """
    headers = headers or {}
    retry_after = parse_retry_after(_header(headers, "Retry-After"), now)
    summary = f"HTTP {status_code}"
    text = summarise_body(body)
    if text:
        summary = f"{summary}: {text}"
    if 200 <= status_code < 300:
        return Outcome("delivered", status_code)
    if status_code >= 500 or status_code in RETRYABLE_CLIENT_ERRORS:
        return Outcome("technical", status_code, summary, retry_after)
    if 300 <= status_code < 400:
        location = _header(headers, "Location") or "?"
        summary = f"HTTP {status_code}: the endpoint redirects to {location}; update its URL"
    return Outcome("business", status_code, summary)


def _header(headers, name):
    if name in headers:
        return headers[name]
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def retry_delay(attempt, base_seconds, max_seconds, retry_after=None, rng=None):
    """Seconds before retry number ``attempt``: the receiver's Retry-After when it gave
    one, else exponential backoff with full jitter from the contract's policy."""
    if retry_after is not None:
        return max(float(retry_after), 1.0)
    if rng is None:
        return backoff_delay(attempt, base_seconds, max_seconds)
    return backoff_delay(attempt, base_seconds, max_seconds, rng=rng)


# -- circuit breaker -------------------------------------------------------------------


@dataclass(frozen=True)
class Breaker:
    """A system's circuit breaker: ``state`` closed, open or half_open."""

    state: str = "closed"
    opened_at: datetime | None = None
    consecutive_failures: int = 0


def breaker_gate(breaker, cooldown_seconds, now):
    """What a dispatch round may do: ("deliver", None), ("probe", None) = one event
    only, or ("wait", until) = nothing before ``until``."""
    if breaker.state == "closed":
        return "deliver", None
    if breaker.state == "half_open":
        return "probe", None
    opened_at = breaker.opened_at or now
    until = opened_at.timestamp() + cooldown_seconds
    if now.timestamp() >= until:
        return "probe", None
    return "wait", datetime.fromtimestamp(until, tz=opened_at.tzinfo)


def breaker_after_round(breaker, outcomes, threshold, now, probing=False):
    """(new Breaker, transition) after a round's ``outcomes``.

    transition: None, "opened" (closed → open), "reopened" (a failed probe) or "closed"
    (a probe, or any delivery, reached the receiver). A receiver that answers, even with
    a business refusal, is up; only technical failures count, and a round's successes
    reset the count.
    """
    reached = any(outcome.reached for outcome in outcomes)
    failures = sum(1 for outcome in outcomes if outcome.status == "technical")
    if reached:
        transition = "closed" if breaker.state != "closed" else None
        return Breaker("closed", None, 0), transition
    if not failures:
        return breaker, None
    count = breaker.consecutive_failures + failures
    if probing or breaker.state == "half_open":
        return Breaker("open", now, count), "reopened"
    if breaker.state == "closed" and count >= threshold:
        return Breaker("open", now, count), "opened"
    return Breaker(breaker.state, breaker.opened_at, count), None
