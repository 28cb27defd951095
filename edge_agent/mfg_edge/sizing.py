"""Store sizing: how long an Odoo outage the store's limits hold at a given event rate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Measured with 1,000,000 typical MES events (tests/bench/bench_edge.py): 639-652 bytes each,
# envelope plus keys, index entries and page slack. The store accounts the same way.
TYPICAL_EVENT_BYTES = 650
# The rate the READMEs size a gateway for.
DOCUMENTED_RATE_PER_S = 50.0
DOCUMENTED_OUTAGE_H = 72.0


@dataclass(frozen=True)
class Coverage:
    rate_per_s: float
    event_bytes: float
    events: int  # how many events the limits admit
    limited_by: str  # "max_bytes" or "max_events"
    hours: float

    def sentence(self) -> str:
        return (
            f"the store holds about {self.events:,} events ({self.limited_by} is the limit, "
            f"{self.event_bytes:.0f} bytes per event): {self.hours:.1f} h of Odoo outage at "
            f"{self.rate_per_s:g} events/s"
        )


def coverage(
    max_bytes: int, max_events: int | None, rate_per_s: float, event_bytes: float
) -> Coverage:
    """Hours of outage the limits cover at `rate_per_s` events of `event_bytes` each."""
    if rate_per_s <= 0 or event_bytes <= 0:
        raise ValueError("the event rate and the bytes per event must be positive")
    by_bytes = int(max_bytes // event_bytes)
    if max_events is not None and max_events < by_bytes:
        events, limited_by = max_events, "max_events"
    else:
        events, limited_by = by_bytes, "max_bytes"
    return Coverage(rate_per_s, event_bytes, events, limited_by, events / rate_per_s / 3600)


def free_bytes(directory: Path) -> int | None:
    """Free space where the store lives (its nearest existing parent), or None if unknown."""
    path = Path(directory)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize
