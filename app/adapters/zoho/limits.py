"""Zoho's concurrency cap: calls in flight per org (5-25 by edition), shared process-wide.

Every client of one org must draw from the same limiter, or two workers each within
their own cap could together exceed Zoho's and draw 429s. Background work (CRM pushes, Sync
Now) never holds the last `interactive_reserve(limit)` slots, so a widget call never queues
behind a merchant's own backlog.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Literal, Protocol

Priority = Literal["interactive", "background"]


def interactive_reserve(limit: int) -> int:
    """Slots of `limit` only interactive calls may take: a fifth (2 of Zoho's usual 10)."""
    return limit // 5


class OrgLimiter:
    """At most `limit` CRM calls of one org in flight at once; `async with` is an interactive
    call, `background()` one that leaves the reserve free."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self._background = asyncio.Semaphore(limit - interactive_reserve(limit))
        self.in_flight = 0

    def background(self) -> AbstractAsyncContextManager[None]:
        return _Background(self)

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        self.in_flight += 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._semaphore.release()


class _Background:
    def __init__(self, limiter: OrgLimiter) -> None:
        self._limiter = limiter

    async def __aenter__(self) -> None:
        await self._limiter._background.acquire()
        try:
            await self._limiter.__aenter__()
        except BaseException:
            self._limiter._background.release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._limiter.__aexit__(exc_type, exc, tb)
        finally:
            self._limiter._background.release()


class LimiterRegistry(Protocol):
    """Where a client of one org gets its limiter: this process's, or one shared with other
    processes (the services keep that one in the database)."""

    limit: int

    def for_org(
        self, org_id: str, priority: Priority = "interactive"
    ) -> AbstractAsyncContextManager[Any]: ...

    def forget(self, org_id: str) -> None: ...

    async def aclose(self) -> None: ...


class OrgLimiters:
    """The process's registry: one limiter per Zoho org id, created on first use."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_org: dict[str, OrgLimiter] = {}

    def for_org(
        self, org_id: str, priority: Priority = "interactive"
    ) -> AbstractAsyncContextManager[Any]:
        limiter = self._by_org.get(org_id)
        if limiter is None:
            limiter = self._by_org[org_id] = OrgLimiter(self.limit)
        return limiter if priority == "interactive" else limiter.background()

    def forget(self, org_id: str) -> None:
        """Drop an uninstalled org's limiter; calls still holding it finish normally."""
        self._by_org.pop(org_id, None)

    async def aclose(self) -> None:
        """Nothing to release: the limiters live in this process only."""
