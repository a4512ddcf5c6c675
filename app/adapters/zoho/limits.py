"""Zoho's concurrency cap: calls in flight per org (5-25 by edition), shared process-wide.

Every client of one org must draw from the same limiter, or two workers each within
their own cap could together exceed Zoho's and draw 429s.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol


class OrgLimiter:
    """At most `limit` CRM calls of one org in flight at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self.in_flight = 0

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


class LimiterRegistry(Protocol):
    """Where a client of one org gets its limiter: this process's, or one shared with other
    processes (the services keep that one in the database)."""

    limit: int

    def for_org(self, org_id: str) -> AbstractAsyncContextManager[Any]: ...

    def forget(self, org_id: str) -> None: ...

    async def aclose(self) -> None: ...


class OrgLimiters:
    """The process's registry: one limiter per Zoho org id, created on first use."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_org: dict[str, OrgLimiter] = {}

    def for_org(self, org_id: str) -> OrgLimiter:
        limiter = self._by_org.get(org_id)
        if limiter is None:
            limiter = self._by_org[org_id] = OrgLimiter(self.limit)
        return limiter

    def forget(self, org_id: str) -> None:
        """Drop an uninstalled org's limiter; calls still holding it finish normally."""
        self._by_org.pop(org_id, None)

    async def aclose(self) -> None:
        """Nothing to release: the limiters live in this process only."""
