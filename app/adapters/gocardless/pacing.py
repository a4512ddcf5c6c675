"""Client-side pacing, so a busy installation stays under GoCardless's rate limit.

GoCardless allows about 1000 requests a minute per merchant. Each organisation gets one
`RatePacer`, shared by every client of that organisation in the process (`PacerRegistry`),
which combines two gates:

- a token bucket, refilled so that a full burst plus a minute of refill never exceeds the
  per-minute limit. The bucket is injected (`TokenBucket`): in-process by default, or one
  the services keep in the database so that every process of ours draws from one budget;
- the server's own count (`RateLimit-Remaining` until `RateLimit-Reset`), which also sees
  requests made by other processes with the same token.

`background` callers (sync, webhook processing) stop while less than `background_reserve` of
either budget is left, so interactive calls from the widget are not queued behind a sync.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal, Protocol

from app.deadlines import waiting_for_budget

Priority = Literal["interactive", "background"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_RATE_PER_MINUTE = 1000


def default_burst(rate_per_minute: int) -> int:
    """A quarter of the minute may go at once: a burst of widget calls (a hundred people
    clicking) passes without waiting, while any 62 s still hold at most the limit (at 1000 a
    minute, 250 plus 62 s at 12.1/s). Background work, which reads a storm in pages of 500
    events, needs little of the refill."""
    return max(rate_per_minute // 4, 1)


DEFAULT_BURST = default_burst(DEFAULT_RATE_PER_MINUTE)
# Background callers stop while fewer than this share of the burst (100 requests) is left.
DEFAULT_BACKGROUND_RESERVE = 0.4
# The server's reset is an HTTP date of a one-minute window; clock skew must not make us
# wait longer than one window.
MAX_SERVER_WAIT = 60.0


def _check_limits(rate_per_minute: int, burst: int, background_reserve: float) -> None:
    if not 0 < burst < rate_per_minute:
        raise ValueError("burst must be positive and below rate_per_minute")
    if not 0 <= background_reserve < 1:
        raise ValueError("background_reserve is a fraction in [0, 1)")


@dataclass(frozen=True)
class BucketShape:
    """A bucket of `capacity` tokens refilled at `refill_per_second`: any `window_seconds`
    (a minute, plus the slack) holds at most `rate_per_minute` takes."""

    capacity: float
    refill_per_second: float

    @classmethod
    def for_rate(cls, rate_per_minute: int, burst: int, slack_seconds: float = 0.0) -> BucketShape:
        return cls(float(burst), (rate_per_minute - burst) / (60.0 + slack_seconds))


class TokenBucket(Protocol):
    async def take(self, needed: float) -> float:
        """Take one token if at least `needed` are there and answer 0; else how long to wait."""
        ...


class LocalBucket:
    """A bucket for this process alone."""

    def __init__(self, shape: BucketShape, clock: Clock = time.monotonic) -> None:
        self._shape = shape
        self._clock = clock
        self._tokens = shape.capacity
        self._refilled_at = clock()

    async def take(self, needed: float) -> float:
        now = self._clock()
        refill = self._shape.refill_per_second
        self._tokens = min(self._shape.capacity, self._tokens + (now - self._refilled_at) * refill)
        self._refilled_at = now
        if self._tokens < needed:
            return (needed - self._tokens) / refill
        self._tokens -= 1.0
        return 0.0


BucketFactory = Callable[[str, BucketShape], TokenBucket]


class RatePacer:
    def __init__(
        self,
        *,
        rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
        burst: int | None = None,
        background_reserve: float = DEFAULT_BACKGROUND_RESERVE,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        bucket: TokenBucket | None = None,
    ) -> None:
        burst = default_burst(rate_per_minute) if burst is None else burst
        _check_limits(rate_per_minute, burst, background_reserve)
        self._capacity = float(burst)
        self._reserve = background_reserve
        self._clock = clock
        self._sleep = sleep
        self._bucket = bucket or LocalBucket(BucketShape.for_rate(rate_per_minute, burst), clock)
        # One waiter per priority asks the bucket at a time (a shared bucket costs a query
        # per ask); an interactive call never waits behind a sleeping background one.
        self._turns = {"interactive": asyncio.Lock(), "background": asyncio.Lock()}
        # The server's view: requests left in its window, and when (on our clock) it resets.
        self._server_remaining: int | None = None
        self._server_limit: int | None = None
        self._server_reset_at = 0.0

    async def acquire(self, priority: Priority = "interactive") -> None:
        """Wait until this call may be sent, then count it. The caller's deadline, if it
        excludes budget waits (`app.deadlines`), stands still while this waits its turn."""
        turn = self._turns[priority]
        if turn.locked():
            with waiting_for_budget():
                await turn.acquire()
        else:
            await turn.acquire()
        try:
            while True:
                delay = await self._try_take(priority)
                if delay <= 0:
                    return
                with waiting_for_budget():
                    await self._sleep(delay)
        finally:
            turn.release()

    def observe(self, *, remaining: int | None, limit: int | None, reset_in: float | None) -> None:
        """Adopt the server's count from a response's `RateLimit-*` headers."""
        if remaining is None or reset_in is None or reset_in <= 0:
            return
        self._server_remaining = max(remaining, 0)
        self._server_limit = limit
        self._server_reset_at = self._clock() + min(reset_in, MAX_SERVER_WAIT)

    async def _try_take(self, priority: Priority) -> float:
        """Take a token and return 0, or return how long to wait before trying again."""
        server_wait = self._server_wait(self._clock(), priority)
        if server_wait > 0:
            return server_wait
        needed = 1.0 + (self._capacity * self._reserve if priority == "background" else 0.0)
        wait = await self._bucket.take(needed)
        if wait > 0:
            return wait
        if self._server_remaining is not None:
            # Count in-flight calls until the next response brings the server's figure.
            self._server_remaining -= 1
        return 0.0

    def _server_wait(self, now: float, priority: Priority) -> float:
        if self._server_remaining is None:
            return 0.0
        if now >= self._server_reset_at:
            self._server_remaining = None
            return 0.0
        floor = 0
        if priority == "background" and self._server_limit:
            floor = math.ceil(self._server_limit * self._reserve)
        if self._server_remaining > floor:
            return 0.0
        return self._server_reset_at - now


class PacerRegistry:
    """One pacer per GoCardless organisation, shared by every client in the process."""

    def __init__(
        self,
        *,
        rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
        burst: int | None = None,
        background_reserve: float = DEFAULT_BACKGROUND_RESERVE,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        bucket_for: BucketFactory | None = None,
        slack_seconds: float = 0.0,
    ) -> None:
        burst = default_burst(rate_per_minute) if burst is None else burst
        _check_limits(rate_per_minute, burst, background_reserve)
        self.shape = BucketShape.for_rate(rate_per_minute, burst, slack_seconds)
        self._bucket_for = bucket_for or (lambda _org, shape: LocalBucket(shape, clock))
        self._new_pacer = partial(
            RatePacer,
            rate_per_minute=rate_per_minute,
            burst=burst,
            background_reserve=background_reserve,
            clock=clock,
            sleep=sleep,
        )
        self._pacers: dict[str, RatePacer] = {}

    def for_organisation(self, organisation_id: str) -> RatePacer:
        pacer = self._pacers.get(organisation_id)
        if pacer is None:
            pacer = self._new_pacer(bucket=self._bucket_for(organisation_id, self.shape))
            self._pacers[organisation_id] = pacer
        return pacer

    def forget(self, organisation_id: str) -> None:
        """Drop a disconnected organisation's pacer."""
        self._pacers.pop(organisation_id, None)
