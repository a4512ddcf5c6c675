"""Fixed-window request counting, the model providers describe as "N requests per minute"."""

from __future__ import annotations

import threading
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
            self._counts[key] = (start, used)
        return RateLimitStatus(self.limit, max(self.limit - used, 0), start + self.window, allowed)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
