"""Sync Now's payments on their way from the listing to the CRM, in memory.

A stored page's due payments (and those a customer's or mandate's arrival lets go) are
handed over as records, so the CRM writer upserts them without reading them back from the
mirror: a read of each batch and a join for its customers' records, 2,000 times for 200,000
payments. Nothing is lost with the feed: every payment in it is pending in the mirror, so
whatever a crash (or a CRM that stops answering) leaves here goes in the CRM stages that
follow the listing, read from the mirror.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from app.services.crm.batches import BATCH, Batch, Ready, batch_of

# Records held at most: a listing ahead of the CRM waits rather than fill the memory.
CAPACITY = 200 * BATCH


class PaymentFeed:
    def __init__(self, capacity: int | None = None) -> None:
        self._items: deque[Ready] = deque()
        self._capacity = capacity or CAPACITY
        self._changed = asyncio.Condition()
        # No more will come: the reader takes what makes a full batch, and no partial one.
        self._closed = False
        # Nobody reads any more: what comes is dropped (it stays pending in the mirror).
        self._stopped = False

    async def put(self, ready: Sequence[Ready]) -> None:
        """Add records, waiting while the feed is full."""
        if not ready:
            return
        async with self._changed:
            await self._changed.wait_for(lambda: self._stopped or len(self._items) < self._capacity)
            if self._stopped:
                return
            self._items.extend(ready)
            self._changed.notify_all()

    async def read(self, _after: str | None = None) -> Batch | None:
        """The next full batch, once there is one; None once the feed is closed or stopped
        with less than a batch left (those rows go with the CRM stages)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._closed or self._stopped or len(self._items) >= BATCH
            )
            if self._stopped or len(self._items) < BATCH:
                return None
            taken = [self._items.popleft() for _ in range(BATCH)]
            self._changed.notify_all()
        return batch_of(taken)

    async def close(self) -> None:
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def stop(self) -> None:
        async with self._changed:
            self._stopped = True
            self._items.clear()
            self._changed.notify_all()

    def __len__(self) -> int:
        return len(self._items)
