"""The Odoo nodes the sender may post to, in order of preference, and which one is in use.

Several Odoo nodes share one PostgreSQL database, so any node answers for all of them: an
event posted to a second node after the first died is stored once (the idempotency key is in
the database) and answered 'duplicate' if the first node had stored it. The sender stays on a
node while it answers; when it does not (connection refused or reset, timeout, 502/503/504 from
a proxy), the next node is tried at once, and only after every node failed in a row does the
sender back off. The first node is the preferred one (the plant's own, or the nearest): once
the sender left it, it tries it again every ``failback_s`` seconds and stays there when it
answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def normalise(urls: str | list[str]) -> list[str]:
    """``odoo.url`` as a list of base URLs without a trailing slash (one URL or several)."""
    items = [urls] if isinstance(urls, str) else list(urls)
    return [url.rstrip("/") for url in items]


class Endpoints:
    def __init__(
        self,
        urls: str | list[str],
        failback_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.urls = normalise(urls)
        if not self.urls:
            raise ValueError("at least one Odoo URL is needed")
        self.failback_s = failback_s
        self.monotonic = monotonic
        self.active = 0
        self.failovers = 0
        self._failed_in_a_row = 0
        self._fail_back_at: float | None = None

    @property
    def url(self) -> str:
        return self.urls[self.active]

    def __len__(self) -> int:
        return len(self.urls)

    def failed(self) -> bool:
        """The active node did not answer: make the next one active. True when that node is
        to be tried at once; False when every node failed in a row (the caller backs off, and
        the next attempt starts a new round)."""
        if len(self.urls) == 1:
            return False
        self._failed_in_a_row += 1
        if self.active == 0:
            self._fail_back_at = self.monotonic() + self.failback_s
        self.active = (self.active + 1) % len(self.urls)
        self.failovers += 1
        if self._failed_in_a_row >= len(self.urls):
            self._failed_in_a_row = 0
            return False
        return True

    def answered(self) -> None:
        """The active node answered (whatever the answer: it is up)."""
        self._failed_in_a_row = 0
        if self.active == 0:
            self._fail_back_at = None

    def fail_back_due(self) -> bool:
        """Before a batch: when the sender left the first node ``failback_s`` ago, make the
        first node active again (returns True then; if it still does not answer, failed()
        moves on at once and the next try is ``failback_s`` later)."""
        if self.active == 0 or self._fail_back_at is None:
            return False
        if self.monotonic() < self._fail_back_at:
            return False
        self.active = 0
        self._failed_in_a_row = 0
        return True
