"""Retry delays: exponential backoff with full jitter (AWS architecture blog, 2015)."""

import random


def backoff_delay(attempt, base_seconds=10, max_seconds=3600, rng=random):
    """Seconds to wait before retry number ``attempt`` (1-based), full jitter.

    Full jitter spreads the retries of many failed events over the whole window so
    that a recovering system is not hit by all of them at the same instant.
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    ceiling = min(max_seconds, base_seconds * (2 ** (attempt - 1)))
    # never 0: a retry scheduled "now" would spin on a system that is down
    return max(1.0, rng.uniform(0, ceiling))
