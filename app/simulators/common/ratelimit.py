"""Fixed-window request counting, the model providers describe as "N requests per minute"."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.simulators.common.clock import SimClock


@dataclass(frozen=True)
class RateLimitStatus:
    limit: int
    remaining: int
    reset_at: datetime
    allowed: bool


class FixedWindowRateLimiter:
    """Counts calls per key in windows aligned to the clock (minute boundaries for 60 s)."""

    def __init__(self, limit: int, window: timedelta, clock: SimClock) -> None:
        if limit < 1 or window <= timedelta(0):
            raise ValueError("limit and window must be positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._counts: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.Lock()
        # What callers did, for benchmarks and tests: when each allowed call came (real
        # seconds) and how many were refused.
        self._allowed_at: dict[str, list[float]] = {}
        self._refused: Counter[str] = Counter()

    def _window_start(self, now: datetime) -> datetime:
        epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
        windows = (now - epoch) // self.window
        return epoch + windows * self.window

    def hit(self, key: str) -> RateLimitStatus:
        """Count one call; `allowed` is False once the window's budget is spent."""
        now = self._clock.now()
        start = self._window_start(now)
        with self._lock:
            window, used = self._counts.get(key, (start, 0))
            if window != start:
                used = 0
            allowed = used < self.limit
            if allowed:
                used += 1
                self._allowed_at.setdefault(key, []).append(time.monotonic())
            else:
                self._refused[key] += 1
            self._counts[key] = (start, used)
        return RateLimitStatus(self.limit, max(self.limit - used, 0), start + self.window, allowed)

    def usage(self) -> dict[str, dict[str, int]]:
        """Per key: calls allowed, calls refused, and the most allowed in any 60 real seconds."""
        with self._lock:
            keys = set(self._allowed_at) | set(self._refused)
            return {
                key: {
                    "allowed": len(self._allowed_at.get(key, [])),
                    "refused": self._refused[key],
                    "busiest_minute": _busiest(self._allowed_at.get(key, []), 60.0),
                }
                for key in keys
            }

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._allowed_at.clear()
            self._refused.clear()


def _busiest(times: list[float], span: float) -> int:
    """The most of the (sorted) `times` that fall within any `span` seconds."""
    most, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= span:
            first += 1
        most = max(most, last - first + 1)
    return most
