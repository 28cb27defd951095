"""Fault switches: what the emulator does wrong on purpose, by count ("the next N") or by rate
(a random share, from a seeded generator so a run can be repeated).

Switches (JSON keys of ``POST /__emulator__/faults``, or ``Faults.update``):

- ``latency_ms``, ``jitter_ms``: every service request waits latency + uniform(0, jitter).
- ``burst_count`` with ``burst_status`` (429 or 503) and ``retry_after_s``: the next N service
  requests are answered with that status and ``Retry-After``; ``rate_429``, ``rate_503``: a share.
- ``csrf_expire_every``: the CSRF tokens expire after every N accepted writes;
  ``csrf_expire_now``: they expire at once; ``rate_csrf_expiry``: a share of writes find it expired.
- ``stale_etag_count``: the next N updates with ``If-Match`` find the entity changed by someone
  else in SAP meanwhile (its ETag moves, the update gets 412).
- ``business_errors``: a list of rules ``{"kind": "order_locked" | "period_closed" |
  "unknown_material", "order": "1000001", "material": "RM-PLT3MM", "count": N, "rate": 0.1}``;
  ``order``/``material`` narrow the rule, ``count`` ends it after N errors, ``rate`` draws it.
- ``drop_before_count``/``rate_drop_before``: writes whose connection is closed without an answer
  before anything was applied; ``drop_after_count``/``rate_drop_after``: applied, then closed.
- ``timeout_count``/``rate_timeout`` with ``timeout_ms``: writes applied, then answered only after
  ``timeout_ms`` (longer than the client's read timeout).
- ``seed``: seeds the generator of the rates.
"""

import random
import threading

BUSINESS_KINDS = ("order_locked", "period_closed", "unknown_material")
DEFAULTS = {
    "latency_ms": 0,
    "jitter_ms": 0,
    "burst_count": 0,
    "burst_status": 503,
    "retry_after_s": 1,
    "rate_429": 0.0,
    "rate_503": 0.0,
    "csrf_expire_every": 0,
    "rate_csrf_expiry": 0.0,
    "stale_etag_count": 0,
    "business_errors": [],
    "drop_before_count": 0,
    "drop_after_count": 0,
    "rate_drop_before": 0.0,
    "rate_drop_after": 0.0,
    "timeout_count": 0,
    "rate_timeout": 0.0,
    "timeout_ms": 10_000,
    "seed": None,
}
ACTIONS = ("csrf_expire_now",)


class FaultError(ValueError):
    """A fault setting that does not make sense: answered 400 by the admin API."""


class Faults:
    def __init__(self, settings=None):
        self.lock = threading.Lock()
        self.settings = dict(DEFAULTS)
        self.settings["business_errors"] = []
        self.rng = random.Random()
        self.injected = {}
        self.csrf_expire_requested = False
        self._expired_at = None
        if settings:
            self.update(settings)

    def update(self, changes):
        """Merge ``changes`` into the switches (validated first: nothing changes on error)."""
        unknown = set(changes) - set(DEFAULTS) - set(ACTIONS)
        if unknown:
            raise FaultError(f"unknown fault switches: {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            _check(key, value)
        with self.lock:
            for key, value in changes.items():
                if key == "csrf_expire_now":
                    self.csrf_expire_requested = bool(value)
                elif key == "business_errors":
                    self.settings[key] = [dict(rule) for rule in value]
                else:
                    self.settings[key] = value
            if "seed" in changes:
                self.rng.seed(changes["seed"])

    def clear(self):
        with self.lock:
            self.settings = dict(DEFAULTS)
            self.settings["business_errors"] = []
            self.csrf_expire_requested = False
            self.injected = {}

    def snapshot(self):
        with self.lock:
            return {**self.settings, "injected": dict(self.injected)}

    def _count(self, name):
        self.injected[name] = self.injected.get(name, 0) + 1

    def _take(self, count_key, rate_key):
        """True when the next-N counter or the rate says so (the counter is used up first)."""
        if self.settings[count_key] > 0:
            self.settings[count_key] -= 1
            return True
        rate = self.settings.get(rate_key) or 0.0
        return rate > 0 and self.rng.random() < rate

    def delay_s(self):
        with self.lock:
            latency, jitter = self.settings["latency_ms"], self.settings["jitter_ms"]
            extra = self.rng.uniform(0, jitter) if jitter else 0.0
        return (latency + extra) / 1000.0

    def throttle(self):
        """(status, Retry-After seconds) for a request answered 429/503 now, or None."""
        with self.lock:
            retry_after = self.settings["retry_after_s"]
            if self.settings["burst_count"] > 0:
                self.settings["burst_count"] -= 1
                status = self.settings["burst_status"]
                self._count(f"http_{status}")
                return status, retry_after
            for status in (429, 503):
                rate = self.settings[f"rate_{status}"]
                if rate > 0 and self.rng.random() < rate:
                    self._count(f"http_{status}")
                    return status, retry_after
        return None

    def write_fault(self):
        """'drop_before', 'drop_after', 'timeout' or None for one write request."""
        with self.lock:
            for name in ("drop_before", "drop_after", "timeout"):
                if self._take(f"{name}_count", f"rate_{name}"):
                    self._count(name)
                    return name
        return None

    def timeout_s(self):
        with self.lock:
            return self.settings["timeout_ms"] / 1000.0

    def csrf_expired(self, writes):
        """True when the tokens must expire before this write (``writes`` accepted so far)."""
        with self.lock:
            every = self.settings["csrf_expire_every"]
            # once per N writes: the write retried with a fresh token must pass
            due = every > 0 and writes > 0 and writes % every == 0 and writes != self._expired_at
            if due:
                self._expired_at = writes
            expire = self.csrf_expire_requested or due
            rate = self.settings["rate_csrf_expiry"]
            expire = expire or (rate > 0 and self.rng.random() < rate)
            self.csrf_expire_requested = False
            if expire:
                self._count("csrf_expiry")
            return expire

    def take_stale_etag(self):
        with self.lock:
            if self.settings["stale_etag_count"] > 0:
                self.settings["stale_etag_count"] -= 1
                self._count("stale_etag")
                return True
        return False

    def business_error(self, *, order=None, materials=()):
        """The kind of business error a write on ``order``/``materials`` meets, or None."""
        with self.lock:
            for rule in self.settings["business_errors"]:
                if rule.get("order") and rule["order"] != order:
                    continue
                if rule.get("material") and rule["material"] not in materials:
                    continue
                if rule.get("rate") is not None and self.rng.random() >= rule["rate"]:
                    continue
                if rule.get("count") is not None:
                    if rule["count"] <= 0:
                        continue
                    rule["count"] -= 1
                self._count(rule["kind"])
                return rule["kind"], rule
        return None


def _check(key, value):
    if key == "business_errors":
        if not isinstance(value, list):
            raise FaultError("business_errors is a list of rules")
        for rule in value:
            if not isinstance(rule, dict) or rule.get("kind") not in BUSINESS_KINDS:
                raise FaultError(f"a business error rule needs a kind among {BUSINESS_KINDS}")
        return
    if key == "burst_status" and value not in (429, 503):
        raise FaultError("burst_status is 429 or 503")
    if key.startswith("rate_") and not (isinstance(value, int | float) and 0 <= value <= 1):
        raise FaultError(f"{key} is a share between 0 and 1")
    if (key.endswith(("_count", "_ms", "_every", "_s"))) and not (
        isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    ):
        raise FaultError(f"{key} is a number >= 0")
