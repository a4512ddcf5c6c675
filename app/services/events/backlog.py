"""The inbox as the database sees it, for /metrics: the same figures from any process.

Processing may run in `serve` or in standalone workers; these gauges are read from the
database at each scrape, so one scrape of any process shows the backlog, its age, the events
being retried and the parked ones, whatever the deployment.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from app.models import EventStatus, InboxEvent
from app.runtime import Runtime


async def observe_inbox(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    InboxEvent.status,
                    func.count(),
                    func.min(InboxEvent.created_at),
                    func.count().filter(InboxEvent.attempts > 0),
                    func.count(InboxEvent.claimed_by),
                )
                .where(InboxEvent.status.in_([EventStatus.pending.value, EventStatus.failed.value]))
                .group_by(InboxEvent.status)
            )
        ).all()
    by_status = {row[0]: row[1:] for row in rows}
    metrics = runtime.metrics
    for status in (EventStatus.pending, EventStatus.failed):
        metrics.inbox_depth.labels(status.value).set(by_status.get(status.value, (0,))[0])
    pending = by_status.get(EventStatus.pending.value)
    oldest = pending[1] if pending else None
    metrics.inbox_oldest_pending.set((now - oldest).total_seconds() if oldest else 0.0)
    metrics.inbox_retrying.set(pending[2] if pending else 0)
    metrics.inbox_claimed.set(pending[3] if pending else 0)
