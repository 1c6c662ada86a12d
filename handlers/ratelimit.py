"""Token-bucket rate limiting per client IP, with separate read and write buckets."""

from __future__ import annotations

import math
import time
from typing import Callable

Clock = Callable[[], float]

# Refills add `elapsed * rate` in floating point, a little short of the exact sum when
# they come in several steps (5/6 + 1/6 < 1): without this slack a client that waited
# exactly Retry-After seconds would be refused again.
EPSILON = 1e-9


class TokenBucket:
    """Holds up to `capacity` tokens and refills `capacity` of them per `period` seconds."""

    __slots__ = ("capacity", "rate", "tokens", "updated", "clock")

    def __init__(self, capacity: int, period: float = 60.0, clock: Clock = time.monotonic) -> None:
        self.capacity = capacity
        self.rate = capacity / period  # tokens per second
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self) -> bool:
        """Spend one token if there is one."""
        self._refill()
        if self.tokens >= 1 - EPSILON:
            self.tokens = max(0.0, self.tokens - 1)
            return True
        return False

    @property
    def remaining(self) -> int:
        return int(self.tokens + EPSILON)

    def retry_after(self) -> int:
        """Whole seconds until one token is available."""
        return max(1, math.ceil((1 - self.tokens) / self.rate - EPSILON))

    def reset_after(self) -> int:
        """Whole seconds until the bucket is full again."""
        return max(0, math.ceil((self.capacity - self.tokens) / self.rate - EPSILON))

    def is_full(self) -> bool:
        self._refill()
        return self.tokens >= self.capacity - EPSILON


class RateLimiter:
    """One read and one write bucket per client IP."""

    MAX_CLIENTS = 10_000  # beyond this, full (idle) buckets are forgotten

    def __init__(self, read_per_minute: int, write_per_minute: int, clock: Clock = time.monotonic) -> None:
        self.limits = {False: read_per_minute, True: write_per_minute}
        self.clock = clock
        self.buckets: dict[tuple[str, bool], TokenBucket] = {}

    def bucket(self, client: str, write: bool) -> TokenBucket:
        key = (client, write)
        found = self.buckets.get(key)
        if found is None:
            if len(self.buckets) >= self.MAX_CLIENTS:
                self._forget_idle()
            found = self.buckets[key] = TokenBucket(self.limits[write], clock=self.clock)
        return found

    def _forget_idle(self) -> None:
        for key in [key for key, bucket in self.buckets.items() if bucket.is_full()]:
            del self.buckets[key]
