"""Lanes: each installation's work of one kind (events, Sync Now, CRM pushes) runs on its own.

A single loop over every installation makes each merchant wait for the others: one storm, one
long sync or one slow CRM held up the rest. Here a lane is started per installation with work
due and keeps going, step after step, until none is left; whatever it waits for (its
merchant's GoCardless budget, its org's Zoho slots, a slow resource) holds up no other lane.

At most `limit` lanes of a kind take a step at once (the bounded total). A lane gives its slot
back after every step and queues for it again behind the lanes already waiting (asyncio's
semaphore serves waiters in order), so when more installations than slots have work they take
turns step by step: none takes more than its share, however large its backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.jobs.receiver_load import giving_way
from app.log import get_logger
from app.runtime import Runtime

log = get_logger("app.jobs.lanes")


@dataclass(frozen=True)
class LaneKind:
    name: str
    # Installations with work of this kind due now.
    due: Callable[[Runtime], Awaitable[list[uuid.UUID]]]
    # One step of one installation's work; True while more may be due at once.
    step: Callable[[Runtime, uuid.UUID], Awaitable[bool]]


async def run_lanes(runtime: Runtime, kind: LaneKind, *, limit: int, poll_seconds: float) -> None:
    """Keep a lane going for every installation with work due, until the process stops."""
    slots = asyncio.Semaphore(limit)
    running: set[uuid.UUID] = set()
    async with asyncio.TaskGroup() as lanes:
        while not runtime.stopping.is_set():
            try:
                due = await kind.due(runtime)
            except Exception:
                # The database may be away for a moment; the next look tries again.
                log.exception("lanes.due_failed", kind=kind.name)
                due = []
            for installation_id in due:
                if installation_id not in running:
                    running.add(installation_id)
                    lanes.create_task(_lane(runtime, kind, slots, installation_id, running))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(runtime.stopping.wait(), timeout=poll_seconds)


async def _lane(
    runtime: Runtime,
    kind: LaneKind,
    slots: asyncio.Semaphore,
    installation_id: uuid.UUID,
    running: set[uuid.UUID],
) -> None:
    try:
        more = True
        while more and not runtime.stopping.is_set():
            async with slots, giving_way(runtime):
                more = await kind.step(runtime, installation_id)
    except Exception:
        # This lane ends; the next look starts it again if its work is still due.
        log.exception("lanes.step_failed", kind=kind.name, installation_id=str(installation_id))
    finally:
        running.discard(installation_id)
