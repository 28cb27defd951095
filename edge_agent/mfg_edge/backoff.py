"""Full-jitter exponential backoff, shared by the sender and the sources' reconnects."""

from __future__ import annotations

import random


class Backoff:
    """Full-jitter exponential backoff: sleep a uniform random time in [0, min(cap, base*2^n)]."""

    def __init__(self, base_s: float, cap_s: float, rng=random.random):
        self.base_s = base_s
        self.cap_s = cap_s
        self.rng = rng
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return self.rng() * ceiling

    def reset(self) -> None:
        self.attempt = 0
