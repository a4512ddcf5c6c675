"""How hard the webhook receiver is working, so background work gives way to it.

On shared cores the worker's refresh of a storm (and the database and provider calls it
makes) competed with the receiver: acknowledgements at 500 webhooks a second waited seconds.
The worker reads the receiver's rate from the inbox ten times a second; above
`WORKER_YIELD_ABOVE_WEBHOOKS_PER_SECOND` its lanes take their steps one at a time (whatever
their kind or merchant), each followed by a rest of several times what it took, so the
worker runs at about a tenth of one lane's pace until the burst passes. A rest per lane
alone left ten merchants' lanes at work at once: the worker, the providers' answers and the
database still took half the cores, and acknowledgements waited 1.8 to 2.7 s. The worker
never stops: events still reach the CRM, later, and the inbox keeps every acknowledged one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import distinct, func, select

from app.log import get_logger
from app.models import EventStatus, InboxEvent
from app.runtime import Runtime
from app.services.inbox import WEBHOOK_SOURCE

log = get_logger(__name__)

# Short, and read ten times a second (jobs/worker.py): in the first seconds of a flood the
# worker, still at full pace, held the slowest acknowledgements.
WINDOW = timedelta(seconds=0.25)
# While the receiver is busy, a step is followed by a rest this many times as long as it took
# (the worker runs a tenth of the time), and never longer than MAX_REST_SECONDS at once.
REST_FACTOR, MAX_REST_SECONDS = 9.0, 1.0


async def webhooks_per_second(runtime: Runtime) -> float:
    """Webhooks received lately: the rows of one webhook share their arrival time."""
    now = runtime.clock()
    async with runtime.reader() as session:
        received = await session.scalar(
            select(func.count(distinct(InboxEvent.next_attempt_at))).where(
                # Every status, so the index on (status, next_attempt_at) serves it.
                InboxEvent.status.in_([status.value for status in EventStatus]),
                InboxEvent.next_attempt_at > now - WINDOW,
                InboxEvent.next_attempt_at <= now,
                # Not the events the catch-up job or Sync Now stored, a time for each.
                InboxEvent.source == WEBHOOK_SOURCE,
            )
        )
    return int(received or 0) / WINDOW.total_seconds()


async def watch_receiver(runtime: Runtime) -> bool:
    rate = await webhooks_per_second(runtime)
    busy = rate > runtime.settings.worker_yield_above_webhooks_per_second
    if busy != runtime.receiver_busy:
        log.info("worker.giving_way" if busy else "worker.full_pace", webhooks_per_second=rate)
    runtime.receiver_busy = busy
    return False


def rest_after(runtime: Runtime, step_seconds: float) -> float:
    """How long the worker rests after a step that took `step_seconds`."""
    if not runtime.receiver_busy:
        return 0.0
    return min(step_seconds * REST_FACTOR, MAX_REST_SECONDS)


@contextlib.asynccontextmanager
async def giving_way(runtime: Runtime) -> AsyncIterator[None]:
    """Around one background step: while the receiver is busy, one step at a time in the
    whole worker, whatever its kind, each followed by its rest before the next may start."""
    if not runtime.receiver_busy:
        yield
        return
    async with runtime.giving_way:
        started = time.monotonic()
        try:
            yield
        finally:
            rest = rest_after(runtime, time.monotonic() - started)
            if rest:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(runtime.stopping.wait(), timeout=rest)
