"""Retry-After: delay-seconds and the three HTTP date forms, bounded so the sender never stalls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mfg_edge.retry_after import retry_after_seconds

# A fixed wall clock: the answers never depend on when the test runs.
NOW = datetime(2026, 12, 9, 10, 0, 0, tzinfo=UTC).timestamp()
MAXIMUM = 300.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("-5", 0.0),  # never a negative wait
        ("299", 299.0),
        ("301", MAXIMUM),
        ("1e12", MAXIMUM),  # would be 31,688 years
        ("inf", MAXIMUM),
        ("Infinity", MAXIMUM),
        ("-inf", 0.0),
        ("nan", None),  # unreadable: the backoff alone decides
        ("NaN", None),
        ("", None),
        ("soon", None),
        (None, None),
        # IMF-fixdate, the obsolete RFC 850 form and asctime, all two minutes after NOW
        ("Wed, 09 Dec 2026 10:02:00 GMT", 120.0),
        ("Wednesday, 09-Dec-26 10:02:00 GMT", 120.0),
        ("Wed Dec  9 10:02:00 2026", 120.0),
        ("Wed, 09 Dec 2026 09:00:00 GMT", 0.0),  # in the past: at once
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
        ("Wed, 09 Dec 2026 13:00:00 GMT", MAXIMUM),  # three hours ahead: bounded
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAXIMUM),
        ("Wed, 99 Dec 2026 10:00:00 GMT", None),  # not a date
    ],
)
def test_retry_after_is_read_and_bounded(header, expected):
    assert retry_after_seconds(header, now=NOW, maximum=MAXIMUM) == expected


def test_the_bound_is_the_configured_one():
    assert retry_after_seconds("inf", now=NOW, maximum=5.0) == 5.0
    assert retry_after_seconds("Wed, 09 Dec 2026 10:02:00 GMT", now=NOW, maximum=60.0) == 60.0
