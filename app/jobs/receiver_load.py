"""How hard the webhook receiver is working, so background work gives way to it.

On shared cores the worker's refresh of a storm (and the database and provider calls it
makes) competed with the receiver: acknowledgements at 500 webhooks a second waited seconds.
The worker reads the receiver's rate from the inbox every second; above
`WORKER_YIELD_ABOVE_WEBHOOKS_PER_SECOND` each lane rests after each step for a few times what
the step took, so the worker runs at a fraction of its pace until the burst passes. It never
stops: events still reach the CRM, later, and the inbox keeps every acknowledged one.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import distinct, func, select

from app.models import EventStatus, InboxEvent
from app.runtime import Runtime
from app.services.inbox import WEBHOOK_SOURCE

WINDOW = timedelta(seconds=2)
# While the receiver is busy, a lane rests this many times as long as its step took (it runs
# a fifth of the time), and never longer than MAX_REST_SECONDS at once.
REST_FACTOR, MAX_REST_SECONDS = 4.0, 1.0


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
    runtime.receiver_busy = rate > runtime.settings.worker_yield_above_webhooks_per_second
    return False


def rest_after(runtime: Runtime, step_seconds: float) -> float:
    """How long a lane rests after a step that took `step_seconds`."""
    if not runtime.receiver_busy:
        return 0.0
    return min(step_seconds * REST_FACTOR, MAX_REST_SECONDS)
