"""Event state names and the order events of one subject are applied in (inbox and outbox)."""

from datetime import UTC, datetime

STATES = [
    ("received", "Received"),
    ("queued", "Queued"),
    ("processing", "Processing"),
    ("waiting", "Waiting"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("dead", "Dead"),
    ("discarded", "Discarded"),
    ("rejected", "Rejected by API"),
]
# States in which an event still has to be applied (inbound) or delivered (outbound): a later
# event of the same subject must not overtake it. failed and dead count too: a person decides.
PENDING_STATES = ("received", "queued", "processing", "waiting", "failed", "dead")
# States a person can retry (inbound) from the exception queue or the event.
RETRYABLE_STATES = ("failed", "dead", "waiting", "queued")
# States an outbound event can be replayed from: it is not on its way.
REPLAYABLE_STATES = ("done", "failed", "dead", "discarded")
# States whose payloads the retention cron may purge.
FINAL_STATES = ("done", "discarded", "rejected")
# The order events are applied in: by subject, then time, sequence and id. A missing
# sequence sorts first, as in the inbox's blocked-by-earlier check and its chunk planning.
SUBJECT_ORDER = "subject NULLS LAST, occurred_at, COALESCE(sequence, ''), id"
# SQL condition: event ``p`` comes before event ``e`` of the same subject and direction in
# SUBJECT_ORDER (the subject-order index serves it); the query names its events p and e.
P_AHEAD_OF_E = """p.subject = e.subject AND p.direction = e.direction
    AND (p.occurred_at, COALESCE(p.sequence, ''), p.id)
        < (e.occurred_at, COALESCE(e.sequence, ''), e.id)"""


def precise_now():
    """Now in naive UTC, to the microsecond (``fields.Datetime.now()`` drops them): for
    latencies, measured against event times that carry milliseconds."""
    return datetime.now(UTC).replace(tzinfo=None)
