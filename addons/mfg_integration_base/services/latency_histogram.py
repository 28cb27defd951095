"""Latency histograms: the buckets the hourly latency counters count in, and quantiles read
back from them.

The overview's 24-hour p95 and the metrics' last-hour quantiles were percentiles over the
events themselves: a read of every event of the day (1.7 s for the overview of a plant of a
million events a day). Counting each applied or delivered event in a bucket when its outcome
is recorded (the same statement that adds it to the hourly traffic counters) makes them a
read of a few hundred rows, at the price of an estimate: linear within a bucket, as
Prometheus' ``histogram_quantile`` does, so never further from the true value than the
bucket is wide (about a quarter to a half of it, from 0.1 s to a day).
"""

from bisect import bisect_right

# Upper bounds in seconds: bucket 0 holds latencies below BOUNDS[0], bucket i those in
# [BOUNDS[i - 1], BOUNDS[i]), the last one (len(BOUNDS)) everything from a day on. The same
# rule as PostgreSQL's width_bucket(latency, BOUNDS), which the SQL writers use.
BOUNDS = (
    0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450,
    600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 43200, 86400,
)  # fmt: skip
# for SQL: width_bucket(latency_s, %(bounds)s::float8[])
SQL_BOUNDS = list(BOUNDS)


def bucket_of(latency):
    """The bucket of a latency in seconds (as width_bucket(latency, BOUNDS) in SQL)."""
    return bisect_right(BOUNDS, max(latency, 0.0))


def quantile(counts, q):
    """The ``q`` quantile (0..1) of the latencies counted in ``counts`` {bucket: count}, or
    None when nothing was counted: linear interpolation inside the bucket the rank falls in;
    in the open last bucket, its lower bound (a day)."""
    total = sum(count for count in counts.values() if count > 0)
    if not total:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(counts):
        count = counts[bucket]
        if count <= 0:
            continue
        if seen + count >= rank:
            low = BOUNDS[bucket - 1] if bucket > 0 else 0.0
            if bucket >= len(BOUNDS):
                return low
            high = BOUNDS[bucket]
            return low + (high - low) * max(rank - seen, 0) / count
        seen += count
    return BOUNDS[-1]
