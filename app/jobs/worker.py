"""The background worker: inbox processing, Sync Now, CRM pushes, catch-up, housekeeping.

Events, Sync Now and CRM pushes run in lanes, one per installation (see jobs.lanes): one
merchant's storm, sync or slow CRM holds up no other merchant. `drain` runs the same work as
plain passes over every installation, for tests and the demo's seeding.

Several workers may run against one database: inbox rows are claimed with SKIP LOCKED and
per-installation jobs hold leases, so each piece of work has one owner at a time; a dead
owner's work is taken over at once (see services.ownership).

Stopping (SIGTERM) sets `runtime.stopping`: jobs end at their next step (between events,
between Sync Now pages and CRM batches), whatever still runs after STOP_GRACE_SECONDS is
cancelled (every step is a transaction, so nothing half-done stays), and the claims and
leases still held are given back, so another worker resumes from the stored progress.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import SQLAlchemyError

from app.jobs.lanes import LaneKind, run_lanes
from app.jobs.receiver_load import watch_receiver
from app.log import get_logger
from app.models import EventStatus, InboxEvent, Lease, OAuthState
from app.runtime import Runtime
from app.services.catch_up import catch_up_all
from app.services.crm.scheduler import installations_with_changes, push_changes, push_installation
from app.services.events import process_due_events
from app.services.events.claims import due_installations
from app.services.reconciliation import reconcile_due_customers
from app.services.sync import due_syncs, run_sync

log = get_logger("app.jobs.worker")

PROCESSED_EVENT_RETENTION = timedelta(days=30)
# How long jobs get to reach their next step after a stop before they are cancelled; with
# uvicorn's own grace for requests (the same) a stop ends well within 10 s.
STOP_GRACE_SECONDS = 4.0


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


async def _events_step(runtime: Runtime, installation_id: uuid.UUID) -> bool:
    return await process_due_events(runtime, installation_id=installation_id) > 0


async def _sync_step(runtime: Runtime, installation_id: uuid.UUID) -> bool:
    await run_sync(runtime, installation_id)
    return False


async def _crm_step(runtime: Runtime, installation_id: uuid.UUID) -> bool:
    return (await push_installation(runtime, installation_id)).upserts > 0


# Each installation's events, Sync Now and CRM pushes run in lanes of their own (jobs.lanes).
EVENT_LANES = LaneKind("events", due_installations, _events_step)
SYNC_LANES = LaneKind("syncs", due_syncs, _sync_step)
CRM_LANES = LaneKind("crm", installations_with_changes, _crm_step)


def in_lanes(kind: LaneKind, poll_seconds: float) -> Callable[[Runtime], Awaitable[bool]]:
    async def run(runtime: Runtime) -> bool:
        limit = runtime.settings.worker_lanes
        await run_lanes(runtime, kind, limit=limit, poll_seconds=poll_seconds)
        return False

    return run


async def heal_missed_webhooks(runtime: Runtime) -> bool:
    await catch_up_all(runtime)
    return False


async def reconcile_customers(runtime: Runtime) -> bool:
    await reconcile_due_customers(runtime)
    return False


async def housekeeping(runtime: Runtime) -> bool:
    """Keep the tables small and the inbox gauges current (a worker's own /metrics)."""
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
    return False


async def release_held_work(runtime: Runtime) -> None:
    """Give back the events and leases this process still holds, then its owner key."""
    owner = runtime.owner.current
    if owner is not None:
        try:
            async with runtime.sessionmaker() as session, session.begin():
                await session.execute(
                    update(InboxEvent).where(InboxEvent.claimed_by == owner).values(claimed_by=None)
                )
                await session.execute(delete(Lease).where(Lease.owner == owner))
        except SQLAlchemyError:
            # Closing the owner's connection below frees them for the other workers anyway.
            log.warning("worker.release_failed", exc_info=True)
    await runtime.owner.close()


def default_jobs(catch_up_seconds: float) -> tuple[PeriodicJob, ...]:
    return (
        PeriodicJob("process_inbox", 0.5, in_lanes(EVENT_LANES, 0.5)),
        PeriodicJob("advance_syncs", 1.0, in_lanes(SYNC_LANES, 1.0)),
        PeriodicJob("push_crm", 1.0, in_lanes(CRM_LANES, 1.0)),
        PeriodicJob("heal_missed_webhooks", catch_up_seconds, heal_missed_webhooks),
        # Only looks for due installations; each is re-listed once per its own interval.
        PeriodicJob("reconcile_customers", 60.0, reconcile_customers),
        PeriodicJob("housekeeping", 15.0, housekeeping),
        PeriodicJob("watch_receiver", 0.1, watch_receiver),
    )


async def run_worker(runtime: Runtime, jobs: tuple[PeriodicJob, ...] | None = None) -> None:
    """Run the jobs until `runtime.stopping` is set, then stop them and give back their work."""
    jobs = jobs or default_jobs(runtime.settings.catch_up_interval_seconds)
    log.info("worker.started", jobs=[job.name for job in jobs])
    tasks = [asyncio.create_task(_every(runtime, job), name=f"job.{job.name}") for job in jobs]
    try:
        await runtime.stopping.wait()
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        if late:
            log.info("worker.cancelling", jobs=[task.get_name() for task in late])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await release_held_work(runtime)
    log.info("worker.stopped")


async def _every(runtime: Runtime, job: PeriodicJob) -> None:
    stop = runtime.stopping
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
