"""The sender: drains the store to Odoo's POST /mfg/v1/events in batches, in sequence order.

It posts to one Odoo node at a time and moves to the next configured node when that one does
not answer (see endpoints.py); nodes share one database, so a batch resent to another node is
stored once and answered duplicate where the first node had stored it.

One batch is in flight at a time and a failed batch is retried before anything newer, so a
subject's later events never overtake an earlier one. Events leave the store only when the
receiver answered them accepted/duplicate (or rejected: then they move to the dead-letter table).

Counting for the daily summary: an event is counted once, when the receiver applied it because of
its queue row: answered accepted, or duplicate of that row's own earlier attempt (the answer to
the attempt was lost: timeout, crash before the store recorded it). The receiver's duplicate
answer names the sequence of the copy it holds: the row's own sequence means its own attempt; any
other means a source replayed an event delivered (and counted) before. A receiver that does not
name it: a duplicate counts if this process saw that row's earlier attempt go unanswered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from .backoff import Backoff
from .codec import dumps_compact, loads, utc_day
from .endpoints import Endpoints
from .reports import heartbeat_envelope, summary_event
from .retry_after import DEFAULT_MAX_S as DEFAULT_RETRY_AFTER_MAX_S
from .retry_after import retry_after_seconds
from .store import Store, StoredEvent

_logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What the last POST means for the loop: continue, retry after a delay, or stop (auth)."""

    kind: str  # "ok" | "retry" | "auth" | "misconfigured"
    reason: str = ""
    retry_after_s: float | None = None
    # the node did not answer (connection error, timeout, 502/503/504): another node may
    failover: bool = False


OK = Outcome("ok")


class Sender:
    def __init__(
        self,
        *,
        store: Store,
        url: str | list[str],
        api_key: str,
        source: str,
        metrics,
        clock,
        batch_size: int = 500,
        linger_ms: float = 100.0,
        timeout_s: float = 10.0,
        verify: bool | str = True,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 60.0,
        auth_retry_s: float = 900.0,
        retry_after_max_s: float = DEFAULT_RETRY_AFTER_MAX_S,
        heartbeat_interval_s: float = 60.0,
        summary_check_interval_s: float = 60.0,
        started_at: float | None = None,
        wall=time.time,
        failback_s: float = 60.0,
    ):
        self.store = store
        self.endpoints = Endpoints(url, failback_s)
        self.source = source
        self.metrics = metrics
        self.clock = clock
        self.batch_limit = batch_size
        self.linger_s = linger_ms / 1000.0
        self.timeout_s = timeout_s
        self.auth_retry_s = auth_retry_s
        self.retry_after_max_s = retry_after_max_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.summary_check_interval_s = summary_check_interval_s
        # The wall clock that decides which days are finished (a test controls it).
        self.wall = wall
        self.backoff = Backoff(backoff_base_s, backoff_max_s)
        self.session = requests.Session()
        self.session.verify = verify
        self._api_key = api_key
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.started_at = started_at or time.time()
        self.state = "starting"
        self._not_before = 0.0
        self._next_heartbeat = 0.0
        self._next_housekeeping = 0.0
        # Rows posted whose answer never came (the receiver may have applied them).
        self._unanswered: set[int] = set()
        self._thread: threading.Thread | None = None
        blocked = self.store.get_meta("auth_blocked_until")
        refused_key = self.store.get_meta("auth_blocked_key")
        if (
            blocked
            and float(blocked) > time.time()
            and refused_key in (None, _key_fingerprint(api_key))
        ):
            # Restarting the service must not hammer Odoo with a key it already refused;
            # a different key (the operator fixed it) is tried at once.
            self._not_before = time.monotonic() + (float(blocked) - time.time())
            self.state = "auth_failed"
        self.metrics.set("mfg_edge_sender_blocked", lambda: 1 if self.state == "auth_failed" else 0)
        self.metrics.set("mfg_edge_sender_node", lambda: self.endpoints.active)

    @property
    def events_url(self) -> str:
        """POST /mfg/v1/events of the Odoo node in use."""
        return self.endpoints.url + "/mfg/v1/events"

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout)

    def reload(self, api_key: str) -> None:
        """New key (config reload / SIGHUP): lift an authentication stop at once."""
        self._api_key = api_key
        if self.state in ("auth_failed", "misconfigured"):
            _logger.info("configuration reloaded: the sender retries now")
            self.store.set_meta(auth_blocked_until=None, sender_state="retrying")
            self.state = "retrying"
            self._not_before = 0.0
            self.wake.set()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._housekeeping()
                self._maybe_heartbeat()
                wait = self._step()
            except Exception:  # the sender must survive any bug in one iteration; log it loudly
                _logger.exception("sender iteration failed; retrying in 5 s")
                wait = 5.0
            if wait > 0:
                timeout = min(wait, max(0.05, self._next_heartbeat - time.monotonic()))
                if self.state == "ok" and wait <= self.linger_s:
                    # Lingering for a fuller batch: new commits must not cut the wait short.
                    self.stop_event.wait(timeout)
                else:
                    self.wake.wait(timeout)
                self.wake.clear()

    def _step(self) -> float:
        """Send one batch if allowed; returns how long to wait before the next step."""
        now = time.monotonic()
        if now < self._not_before:
            return self._not_before - now
        if self.store.count < self.batch_limit:
            # Let the batch fill a little: one POST per commit would cost more CPU than the data.
            # Decided on the oldest event's arrival alone: reading a batch only to wait for a
            # fuller one would read most events twice.
            oldest = self.store.oldest_received_time()
            if oldest is None:
                return 0.5
            waited = time.time() - oldest
            if 0 <= waited < self.linger_s:
                return self.linger_s - waited
        batch = self.store.next_batch(self.batch_limit)
        if not batch:
            return 0.5
        if self.endpoints.fail_back_due():
            _logger.info("trying the first Odoo node %s again", self.endpoints.url)
        outcome = self._deliver(batch)
        if outcome.failover:
            left = self.endpoints.url
            if self.endpoints.failed():
                self.metrics.inc("mfg_edge_failovers_total")
                _logger.warning(
                    "Odoo node %s did not answer (%s): sending to %s",
                    left,
                    outcome.reason,
                    self.endpoints.url,
                )
                return 0.0
        else:
            self.endpoints.answered()
        if outcome.kind == "ok":
            if self.state != "ok":
                _logger.info("sending to %s works (state was %s)", self.events_url, self.state)
                self.store.set_meta(sender_state="ok")
            self.state = "ok"
            self.backoff.reset()
            return 0.0
        return self._pause(outcome)

    def _pause(self, outcome: Outcome) -> float:
        now_wall = time.time()
        if outcome.kind == "auth":
            delay = self.auth_retry_s
            _logger.error(
                "Odoo refused the agent's API key (%s): sending stopped; fix the key and reload "
                "(SIGHUP / restart), or it retries in %d s",
                outcome.reason,
                delay,
            )
            self.state = "auth_failed"
            self.store.set_meta(
                sender_state="auth_failed",
                auth_blocked_until=now_wall + delay,
                auth_blocked_key=_key_fingerprint(self._api_key),
                last_error=outcome.reason,
                last_error_at=now_wall,
            )
        elif outcome.kind == "misconfigured":
            delay = max(self.backoff.next_delay(), min(300.0, self.auth_retry_s))
            _logger.error(
                "receiver answered %s: check odoo.url; retry in %.0f s", outcome.reason, delay
            )
            self.state = "misconfigured"
            self.store.set_meta(
                sender_state="misconfigured", last_error=outcome.reason, last_error_at=now_wall
            )
        else:
            delay = self.backoff.next_delay()
            if outcome.retry_after_s is not None:
                delay = max(delay, outcome.retry_after_s)
            if (
                self.state != "retrying"
                or self.backoff.attempt in (1, 5, 10)
                or not (self.backoff.attempt % 50)
            ):
                _logger.warning(
                    "send failed (%s); retry %d in %.2f s",
                    outcome.reason,
                    self.backoff.attempt,
                    delay,
                )
            self.state = "retrying"
            self.store.set_meta(
                sender_state="retrying", last_error=outcome.reason, last_error_at=now_wall
            )
        self._not_before = time.monotonic() + delay
        return delay

    # ------------------------------------------------------------------------ HTTP
    def _post(self, body: bytes) -> requests.Response:
        return self.session.post(
            self.events_url,
            data=body,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
            },
            timeout=self.timeout_s,
        )

    def _deliver(self, events: list[StoredEvent]) -> Outcome:
        body = ('{"events":[' + ",".join(e.wire_json() for e in events) + "]}").encode()
        started = time.monotonic()
        try:
            response = self._post(body)
        except requests.RequestException as exc:
            self.metrics.observe("mfg_edge_send_duration_seconds", time.monotonic() - started)
            self._unanswered.update(e.seq for e in events)
            self.metrics.inc("mfg_edge_send_errors_total", reason="connection")
            return Outcome("retry", f"connection error: {type(exc).__name__}", failover=True)
        self.metrics.observe("mfg_edge_send_duration_seconds", time.monotonic() - started)
        status = response.status_code
        if status in (200, 202, 207, 422):
            return self._apply_results(events, response)
        if status in (401, 403):
            self.metrics.inc("mfg_edge_auth_failures_total")
            return Outcome("auth", f"HTTP {status}")
        if status in (400, 413):
            return self._split(events, status, response)
        if status == 429:
            self.metrics.inc("mfg_edge_send_errors_total", reason="429")
            return Outcome("retry", "HTTP 429 rate limited", self._retry_after(response))
        if status >= 500:
            # A proxy's 502/504 can come after the receiver committed.
            self._unanswered.update(e.seq for e in events)
            self.metrics.inc("mfg_edge_send_errors_total", reason="5xx")
            return Outcome(
                "retry",
                f"HTTP {status}",
                self._retry_after(response),
                # a proxy's answer for a node that is down or does not answer
                failover=status in (502, 503, 504),
            )
        # 404/405/415/...: the URL or the agent is wrong; nothing per event can fix that.
        self.metrics.inc("mfg_edge_send_errors_total", reason=str(status))
        return Outcome("misconfigured", f"HTTP {status} {response.text[:200]}")

    def _retry_after(self, response) -> float | None:
        return retry_after_seconds(
            response.headers.get("Retry-After"), now=self.wall(), maximum=self.retry_after_max_s
        )

    def _split(self, events: list[StoredEvent], status: int, response) -> Outcome:
        """413/400: halve until the culprit is alone; a single event that still fails is dead."""
        self.metrics.inc("mfg_edge_send_errors_total", reason=str(status))
        if len(events) == 1:
            code = "too_large" if status == 413 else "malformed"
            message = _error_message(response) or f"HTTP {status} for this event alone"
            _logger.error(
                "event %s answered %d alone: moved to dead letters (%s)",
                events[0].id,
                status,
                message,
            )
            self._complete([], [(events[0], {"code": code, "message": message}, status)])
            self.metrics.inc("mfg_edge_events_rejected_total")
            return OK
        if status == 413:
            self.batch_limit = max(1, len(events) // 2)
            _logger.warning(
                "HTTP 413 for %d events: batch size now %d", len(events), self.batch_limit
            )
        middle = len(events) // 2
        for half in (events[:middle], events[middle:]):
            outcome = self._deliver(half)
            if outcome.kind != "ok":
                return outcome
        return OK

    def _apply_results(self, events: list[StoredEvent], response) -> Outcome:
        try:
            results = loads(response.content)["results"]
            by_index = {int(r["index"]): r for r in results}
        except (ValueError, KeyError, TypeError):
            if response.status_code in (200, 202):
                # A 2xx without a readable body still means "accepted": the contract says so.
                self._complete(events)
                self.metrics.inc("mfg_edge_events_sent_total", len(events))
                return OK
            self._unanswered.update(e.seq for e in events)
            return Outcome("retry", f"HTTP {response.status_code} without a results list")
        delivered, counted, rejected, unanswered = [], [], [], []
        for index, event in enumerate(events):
            result = by_index.get(index)
            status = None if result is None else result.get("status")
            if status is None or result.get("id") not in (None, event.id):
                unanswered.append(event)
            elif status == "accepted":
                delivered.append(event)
                counted.append(event)
            elif status == "duplicate":
                delivered.append(event)
                if self._own_attempt(event, result):
                    counted.append(event)
            elif status == "rejected":
                rejected.append((event, result.get("error") or {}, response.status_code))
            else:
                unanswered.append(event)
        if unanswered and response.status_code in (200, 202):
            delivered.extend(unanswered)
            counted.extend(unanswered)
            unanswered = []
        self._complete(delivered, rejected, counted)
        self.metrics.inc("mfg_edge_events_sent_total", len(delivered))
        if len(counted) < len(delivered):
            self.metrics.inc("mfg_edge_events_redelivered_total", len(delivered) - len(counted))
        if rejected:
            self.metrics.inc("mfg_edge_events_rejected_total", len(rejected))
            for event, error, _status in rejected[:5]:
                _logger.warning(
                    "event %s (%s, subject %s) rejected: %s %s at %s: moved to dead letters",
                    event.id,
                    event.type,
                    event.subject,
                    error.get("code"),
                    error.get("message"),
                    error.get("pointer"),
                )
        if unanswered:
            self._unanswered.update(e.seq for e in unanswered)
            return Outcome("retry", f"{len(unanswered)} events missing from the results")
        return OK

    def _own_attempt(self, event: StoredEvent, result: dict[str, Any]) -> bool:
        """Was this duplicate applied because of this very queue row (count it), or is it a
        replay of an event delivered before (counted then)? See the module docstring."""
        if "sequence" in result:
            try:
                return int(result["sequence"]) == event.seq
            except (TypeError, ValueError):
                return False  # held without a sequence: not from this queue
        return event.seq in self._unanswered

    def _complete(self, delivered, rejected=(), counted=None) -> None:
        self.store.complete(delivered, rejected, counted=counted)
        if self._unanswered:
            self._unanswered.difference_update(e.seq for e in delivered)
            self._unanswered.difference_update(r[0].seq for r in rejected)

    # ------------------------------------------------------------------------ heartbeat, summary
    def _maybe_heartbeat(self) -> None:
        now = time.monotonic()
        if now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.heartbeat_interval_s
        if self.state == "auth_failed":
            return
        self.send_heartbeat()

    def heartbeat_envelope(self) -> str:
        wall, quality = self.clock.quality()
        envelope = heartbeat_envelope(
            self.source,
            self.store.reserve_sequence(),
            wall,
            self.store.stats(),
            self.started_at,
            self.clock.synchronised(),
            quality,
        )
        return dumps_compact(envelope)

    def send_heartbeat(self) -> bool:
        """Sent alone, ahead of any backlog; never stored: the next one carries fresher news."""
        body = ('{"events":[' + self.heartbeat_envelope() + "]}").encode()
        try:
            response = self._post(body)
        except requests.RequestException:
            return False
        if response.status_code in (200, 202):
            self.metrics.inc("mfg_edge_heartbeats_sent_total")
            return True
        return False

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + self.summary_check_interval_s
        self.emit_due_summaries()

    def emit_due_summaries(self, now: float | None = None) -> list[str]:
        """Queue one integration.sent.summary per finished day once that day's backlog is sent
        (or a day later at the latest, so an outage cannot suppress it forever).

        Events of a day can still come after its report: the broker's queue after an agent was
        down over midnight, a CSV file of yesterday's rows. When a reported day's count grows,
        a revision is queued once that day's backlog is sent again (Odoo keeps the newest
        report of a day), so the reconciliation never compares against a stale count."""
        now = self.wall() if now is None else now
        today = utc_day(now)
        reports = self.store.meta_with_prefix("summary")
        emitted = []
        for day, total in self.store.counted_days().items():
            if day >= today:
                continue
            report = _report_of(reports, day)
            if report is None:
                revision = 1
                day_end = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() + 86400
                if self.store.pending_on_or_before(day) and now < day_end + 86400:
                    continue
            elif report["count"] is None or report["count"] == total:
                continue  # up to date (or reported by an agent before 0.2, count unknown)
            elif self.store.pending_on_or_before(day):
                continue  # the revision waits until the late events are sent
            else:
                revision = report["revision"] + 1
            counts = self.store.daily_counts(day)
            if not self._queue_summary(day, revision, counts, now):
                continue
            self.store.set_meta(
                **{
                    f"summary:{day}": json.dumps(
                        {"revision": revision, "count": total, "at": now}, separators=(",", ":")
                    )
                }
            )
            emitted.append(day)
            _logger.info(
                "queued the sent summary for %s%s (%d events)",
                day,
                f", revision {revision}" if revision > 1 else "",
                total,
            )
        return emitted

    def _queue_summary(self, day: str, revision: int, counts: list[dict], now: float) -> bool:
        """Store the report like any transactional event; False if the store is full."""
        event = summary_event(self.source, day, revision, counts, now)
        return not self.store.insert([event]).blocked


def _report_of(reports: dict[str, str], day: str) -> dict[str, Any] | None:
    """The last report queued for a day: revision and count (None: never reported)."""
    text = reports.get(f"summary:{day}")
    if text:
        return json.loads(text)
    if reports.get(f"summary_sent:{day}"):  # written by agents before 0.2: no count kept
        return {"revision": 1, "count": None}
    return None


def _error_message(response) -> str:
    try:
        return str(response.json()["error"]["message"])[:500]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def _key_fingerprint(api_key: str) -> str:
    """Identifies a key without storing it: enough to tell a replaced key from a refused one."""
    return hashlib.sha256((api_key or "").encode()).hexdigest()[:16]
