"""The background worker: inbox processing, Sync Now, CRM pushes, catch-up, housekeeping.

Several workers may run against one database: inbox rows are claimed with SKIP LOCKED and
per-installation jobs hold leases, so each piece of work has one owner at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from app.log import get_logger
from app.models import EventStatus, InboxEvent, OAuthState
from app.runtime import Runtime
from app.services.catch_up import catch_up_all
from app.services.crm_scheduler import push_changes
from app.services.event_processing import process_due_events
from app.services.sync import due_syncs, run_sync

log = get_logger("app.jobs.worker")

PROCESSED_EVENT_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_seconds: float
    # Returns True when it did work, so busy jobs run again at once instead of sleeping.
    run: Callable[[Runtime], Awaitable[bool]]


async def process_inbox(runtime: Runtime) -> bool:
    return await process_due_events(runtime) > 0


async def advance_syncs(runtime: Runtime) -> bool:
    for installation_id in await due_syncs(runtime):
        await run_sync(runtime, installation_id)
    return False


async def push_crm(runtime: Runtime) -> bool:
    return (await push_changes(runtime)).upserts > 0


async def heal_missed_webhooks(runtime: Runtime) -> bool:
    await catch_up_all(runtime)
    return False


async def housekeeping(runtime: Runtime) -> bool:
    """Keep the tables small and the inbox-depth gauge current."""
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1))
        )
        await session.execute(
            delete(InboxEvent).where(
                InboxEvent.status.in_([EventStatus.processed.value, EventStatus.ignored.value]),
                InboxEvent.processed_at < now - PROCESSED_EVENT_RETENTION,
            )
        )
        depth = dict(
            (
                await session.execute(
                    select(InboxEvent.status, func.count())
                    .where(
                        InboxEvent.status.in_([EventStatus.pending.value, EventStatus.failed.value])
                    )
                    .group_by(InboxEvent.status)
                )
            ).all()
        )
    for status in (EventStatus.pending, EventStatus.failed):
        runtime.metrics.inbox_depth.labels(status.value).set(depth.get(status.value, 0))
    return False


def default_jobs(catch_up_seconds: float) -> tuple[PeriodicJob, ...]:
    return (
        PeriodicJob("process_inbox", 0.5, process_inbox),
        PeriodicJob("advance_syncs", 1.0, advance_syncs),
        PeriodicJob("push_crm", 1.0, push_crm),
        PeriodicJob("heal_missed_webhooks", catch_up_seconds, heal_missed_webhooks),
        PeriodicJob("housekeeping", 15.0, housekeeping),
    )


async def run_worker(
    runtime: Runtime, stop: asyncio.Event, jobs: tuple[PeriodicJob, ...] | None = None
) -> None:
    jobs = jobs or default_jobs(runtime.settings.catch_up_interval_seconds)
    log.info("worker.started", jobs=[job.name for job in jobs])
    await asyncio.gather(*(_every(runtime, stop, job) for job in jobs))
    log.info("worker.stopped")


async def _every(runtime: Runtime, stop: asyncio.Event, job: PeriodicJob) -> None:
    while not stop.is_set():
        busy = False
        try:
            busy = await job.run(runtime)
        except Exception:
            # One failed tick must not kill the worker; the next tick tries again.
            log.exception("worker.job_failed", job=job.name)
        if busy:
            continue
        try:
            await asyncio.wait_for(stop.wait(), timeout=job.interval_seconds)
        except TimeoutError:
            continue


async def drain(runtime: Runtime, *, max_rounds: int = 1000) -> None:
    """Run every job until none has work left (tests, the demo's seeding, operator replays)."""
    for _ in range(max_rounds):
        # A sync that runs in this round can leave work behind for the others (the events
        # it replays at its end), so a round with a sync in it is never the last one.
        syncing = bool(await due_syncs(runtime))
        busy = await process_inbox(runtime)
        await advance_syncs(runtime)
        busy = await push_crm(runtime) or busy
        if not busy and not syncing:
            return
    raise RuntimeError("the worker did not settle")
