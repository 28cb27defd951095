"""Plain helpers for the logistics messages: stamps, digests, and dropping empty values."""

import hashlib
import json
from datetime import UTC, datetime


def stamp(value):
    """RFC 3339 UTC of a naive UTC datetime (Odoo's), or None."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def naive_utc(value):
    """An RFC 3339 stamp as the naive UTC datetime Odoo stores; None stays None."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def without_empty(values):
    """The dict without None, False (Odoo's empty) or empty-string values: optional fields
    are left out (a quantity of 0 stays)."""
    return {
        key: value
        for key, value in values.items()
        if value is not None and value is not False and value != ""
    }


def digest(data):
    """A stable hash of JSON data: the same content sent again has the same digest."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def duplicates(values):
    """The values that occur more than once, sorted."""
    seen, twice = set(), set()
    for value in values:
        (twice if value in seen else seen).add(value)
    return sorted(twice, key=str)
