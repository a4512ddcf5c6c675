"""The background worker: periodic jobs, each run by one process at a time per tick."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from app.log import get_logger
from app.models import OAuthState
from app.runtime import Runtime

log = get_logger("app.jobs.worker")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_seconds: float
    run: Callable[[Runtime], Awaitable[None]]


async def purge_oauth_states(runtime: Runtime) -> None:
    """Used or expired states are worthless after a day; keep the table small."""
    cutoff = datetime.now(UTC) - timedelta(days=1)
    async with runtime.sessionmaker() as session, session.begin():
        result = await session.execute(delete(OAuthState).where(OAuthState.expires_at < cutoff))
    purged = getattr(result, "rowcount", 0) or 0
    if purged:
        log.info("oauth_state.purged", count=purged)


JOBS: tuple[PeriodicJob, ...] = (PeriodicJob("purge_oauth_states", 3600.0, purge_oauth_states),)


async def run_worker(
    runtime: Runtime, stop: asyncio.Event, jobs: tuple[PeriodicJob, ...] = JOBS
) -> None:
    log.info("worker.started", jobs=[job.name for job in jobs])
    await asyncio.gather(*(_every(runtime, stop, job) for job in jobs))
    log.info("worker.stopped")


async def _every(runtime: Runtime, stop: asyncio.Event, job: PeriodicJob) -> None:
    while not stop.is_set():
        try:
            await job.run(runtime)
        except Exception:
            # One failed tick must not kill the worker; the next tick tries again.
            log.exception("worker.job_failed", job=job.name)
        try:
            await asyncio.wait_for(stop.wait(), timeout=job.interval_seconds)
        except TimeoutError:
            continue
