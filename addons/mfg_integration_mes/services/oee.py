"""OEE (overall equipment effectiveness) of a work center over one shift, and shift periods.

The figures follow the common definition (ISO 22400, Nakajima):

    planned time  = the shift's length (up to now for the shift in progress)
    stop time     = the part of the shift covered by at least one stop
                    (overlapping stops, e.g. a machine fault and an MES downtime, count once)
    run time      = planned time - stop time
    availability  = run time / planned time
    performance   = ideal cycle time x units counted / run time
    quality       = good units / units counted          (units counted = good + rejected)
    OEE           = availability x performance x quality

A figure whose denominator is zero is 0 (nothing planned, nothing run, nothing counted).
Performance is not capped: over 100 % means the ideal cycle time is set too long.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _ratio(numerator, denominator):
    return numerator / denominator if denominator > 0 else 0.0


@dataclass(frozen=True)
class ShiftFigures:
    planned_seconds: float
    stop_seconds: float
    good: float
    rejected: float
    ideal_cycle_seconds: float

    @property
    def run_seconds(self):
        return max(0.0, self.planned_seconds - self.stop_seconds)

    @property
    def counted(self):
        return self.good + self.rejected

    @property
    def availability(self):
        return _ratio(self.run_seconds, self.planned_seconds)

    @property
    def performance(self):
        return _ratio(self.ideal_cycle_seconds * self.counted, self.run_seconds)

    @property
    def quality(self):
        return _ratio(self.good, self.counted)

    @property
    def oee(self):
        return self.availability * self.performance * self.quality


def covered_seconds(intervals, start, end):
    """Seconds of [start, end) covered by at least one of ``intervals`` ((start, end) pairs;
    an end of None means still running, cut at ``end``)."""
    clipped = sorted(
        (max(begin, start), min(finish or end, end))
        for begin, finish in intervals
        if begin < end and (finish is None or finish > start)
    )
    total = 0.0
    current_start = current_end = None
    for begin, finish in clipped:
        if current_end is None or begin > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = begin, finish
        else:
            current_end = max(current_end, finish)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def counted_units(samples, start, end):
    """Units a counting counter added in [start, end), from (time, value) samples.

    The last sample before ``start`` is the baseline (without one, the first sample in the
    period is); a value lower than the one before is a counter reset: the new value counts
    from zero.
    """
    previous = None
    total = 0.0
    for sampled_at, value in sorted(samples):
        if sampled_at >= end:
            break
        if sampled_at >= start and previous is not None:
            total += value - previous if value >= previous else value
        previous = value
    return total


def shift_periods(attendances_on, time_zone, first_day, last_day):
    """(name, start, end) of each shift from ``first_day`` to ``last_day`` (dates, inclusive),
    in naive UTC; ``attendances_on(day)`` gives the (name, hour_from, hour_to) of a calendar day
    in the calendar's time zone."""
    zone = ZoneInfo(time_zone or "UTC")
    day = first_day
    while day <= last_day:
        midnight = datetime.combine(day, time())
        for name, hour_from, hour_to in sorted(attendances_on(day), key=lambda a: a[1]):
            start, end = (
                (midnight + timedelta(hours=hours)).replace(tzinfo=zone).astimezone(UTC)
                for hours in (hour_from, hour_to)
            )
            if end > start:
                yield name, start.replace(tzinfo=None), end.replace(tzinfo=None)
        day += timedelta(days=1)
