"""Per-source rate limits for the SIP server: a token bucket per address, in a bounded table (pure)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated_s: float


class RateLimiter:
    """`allow(source, now_s)` lets through `rate_per_s` messages a second on average, bursts up to `burst`.

    The table forgets the least recently seen source past `max_sources`, so a flood of spoofed source
    addresses costs bounded memory (a forgotten source starts again with a full bucket).
    """

    def __init__(self, *, rate_per_s: float, burst: float, max_sources: int = 200_000) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be positive and burst at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_sources = max_sources
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        self.refused = 0

    def allow(self, source: Hashable, now_s: float) -> bool:
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = _Bucket(tokens=self.burst, updated_s=now_s)
            self._buckets[source] = bucket
            if len(self._buckets) > self.max_sources:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(source)
            elapsed = max(0.0, now_s - bucket.updated_s)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate_per_s)
            bucket.updated_s = now_s
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True
        self.refused += 1
        return False

    def __len__(self) -> int:
        return len(self._buckets)
