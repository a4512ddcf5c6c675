"""Inbox claims: which events a worker is processing, and how each one ends.

A claim is the owner key of a live process on the event (see `services.ownership`): it lasts
as long as that process does, so a crashed worker's events are taken over at once, and a
live one is never raced for events it is still working on.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update

from app.db import one_of
from app.log import get_logger
from app.models import EventStatus, InboxEvent
from app.runtime import Runtime

log = get_logger("app.services.events.claims")

MAX_ATTEMPTS = 8
# Events wait this long between looks while GoCardless access is revoked; they don't use up
# their attempts, and a re-authorization lets them through on the next look.
REAUTHORIZATION_POLL = timedelta(minutes=10)


@dataclass
class Claimed:
    pk: int
    installation_id: uuid.UUID
    resource_type: str
    action: str
    resource_id: str | None
    attempts: int
    received_at: datetime
    event_id: str | None
    # When GoCardless created the event: where a page of the event list finds it.
    gc_created_at: datetime | None


def _due(runtime: Runtime, now: datetime) -> list[ColumnElement[bool]]:
    return [
        InboxEvent.status == EventStatus.pending.value,
        InboxEvent.next_attempt_at <= now,
        or_(InboxEvent.claimed_by.is_(None), ~runtime.owner.alive(InboxEvent.claimed_by)),
    ]


async def due_installations(runtime: Runtime) -> list[uuid.UUID]:
    """Installations with events due and free to claim."""
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(InboxEvent.installation_id).where(*_due(runtime, datetime.now(UTC))).distinct()
        )
        return list(rows.all())


async def claim(
    runtime: Runtime, limit: int, installation_id: uuid.UUID | None = None
) -> list[Claimed]:
    """Claim due events for this process; SKIP LOCKED lets several workers share the inbox.

    Without an installation, each installation with due events gets an equal share of
    `limit`, so one merchant's backlog cannot fill a pass that others are waiting in.
    """
    owner = await runtime.owner.key()
    if installation_id is not None:
        installations, share = [installation_id], limit
    else:
        installations = await due_installations(runtime)
        share = math.ceil(limit / len(installations)) if installations else 0
    now = datetime.now(UTC)
    claimed: list[Claimed] = []
    async with runtime.sessionmaker() as session, session.begin():
        for installation in installations:
            due = (
                select(InboxEvent.pk)
                .where(InboxEvent.installation_id == installation, *_due(runtime, now))
                .order_by(InboxEvent.pk)
                .limit(share)
                .with_for_update(skip_locked=True)
            )
            rows = await session.execute(
                update(InboxEvent)
                .where(InboxEvent.pk.in_(due.scalar_subquery()))
                .values(claimed_by=owner)
                .returning(
                    InboxEvent.pk,
                    InboxEvent.installation_id,
                    InboxEvent.resource_type,
                    InboxEvent.action,
                    InboxEvent.resource_id,
                    InboxEvent.attempts,
                    InboxEvent.created_at,
                    InboxEvent.event_id,
                    InboxEvent.gc_created_at,
                )
            )
            claimed.extend(Claimed(*row) for row in rows.all())
    return claimed


async def release(runtime: Runtime, events: Sequence[Claimed]) -> None:
    """Give back events we did not finish (stopping, a database error): due again at once."""
    if not events:
        return
    owner = await runtime.owner.key()
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(InboxEvent)
            .where(
                InboxEvent.pk.in_([e.pk for e in events]),
                InboxEvent.claimed_by == owner,
                InboxEvent.status == EventStatus.pending.value,
            )
            .values(claimed_by=None)
        )


async def settle(
    runtime: Runtime, events: Sequence[Claimed], status: EventStatus, error: str | None
) -> None:
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(InboxEvent)
            .where(one_of(session, InboxEvent.pk, [e.pk for e in events]))
            .values(status=status.value, processed_at=now, claimed_by=None, last_error=error)
        )


async def settle_listed(
    runtime: Runtime, installation_id: uuid.UUID, event_ids: Sequence[str]
) -> list[str]:
    """Settle events a page of GoCardless's event list showed, with their resources' state
    read after them, that nobody has claimed; returns their resource types."""
    if not event_ids:
        return []
    async with runtime.sessionmaker() as session, session.begin():
        rows = await session.execute(
            update(InboxEvent)
            .where(
                InboxEvent.installation_id == installation_id,
                InboxEvent.event_id.in_(list(event_ids)),
                InboxEvent.status == EventStatus.pending.value,
                InboxEvent.claimed_by.is_(None),
            )
            .values(
                status=EventStatus.processed.value,
                processed_at=datetime.now(UTC),
                last_error=None,
            )
            .returning(InboxEvent.resource_type)
        )
        return list(rows.scalars().all())


async def await_reauthorization(
    runtime: Runtime,
    events: Sequence[Claimed],
    *,
    reason: str = "waiting for GoCardless to be authorized again",
    poll: timedelta = REAUTHORIZATION_POLL,
) -> None:
    """Look again after `poll` without using up an attempt: what the event waits for (a
    grant, the CRM coming back) is outside it, however long that takes."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(InboxEvent)
            .where(InboxEvent.pk.in_([e.pk for e in events]))
            .values(
                next_attempt_at=datetime.now(UTC) + poll,
                claimed_by=None,
                last_error=reason[:2000],
            )
        )


async def retry_later(runtime: Runtime, events: Sequence[Claimed], error: str) -> None:
    """One more attempt used: due again after a growing delay, parked after MAX_ATTEMPTS."""
    now = datetime.now(UTC)
    error = error[:2000]
    async with runtime.sessionmaker() as session, session.begin():
        for event in events:
            attempts = event.attempts + 1
            parked = attempts >= MAX_ATTEMPTS
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.pk == event.pk)
                .values(
                    attempts=attempts,
                    status=EventStatus.failed.value if parked else EventStatus.pending.value,
                    next_attempt_at=now + timedelta(seconds=min(2**attempts, 900)),
                    claimed_by=None,
                    last_error=error,
                )
            )
    parked_count = sum(1 for e in events if e.attempts + 1 >= MAX_ATTEMPTS)
    # Counted per event: events coalesced into one fetch may be on different attempts.
    runtime.metrics.event_failures.labels("parked").inc(parked_count)
    runtime.metrics.event_failures.labels("retry").inc(len(events) - parked_count)
    log.warning(
        "event.processing_failed",
        installation_id=str(events[0].installation_id),
        resource_type=events[0].resource_type,
        events=len(events),
        error=error,
    )


async def replay_failed(runtime: Runtime, installation_id: uuid.UUID | None = None) -> int:
    """Operator command: put parked events back in the queue with a fresh attempt budget."""
    now = datetime.now(UTC)
    conditions = [InboxEvent.status == EventStatus.failed.value]
    if installation_id is not None:
        conditions.append(InboxEvent.installation_id == installation_id)
    async with runtime.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(InboxEvent)
            .where(*conditions)
            .values(status=EventStatus.pending.value, attempts=0, next_attempt_at=now)
            .returning(InboxEvent.pk)
        )
        return len(result.all())
