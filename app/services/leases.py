"""Named leases on jobs (`sync:<id>`, `crm:<id>`): one live process per job at a time.

A lease is held by its owner for as long as the owner lives (see `ownership`): no expiry to
renew, and a dead owner's lease is free at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Lease
from app.runtime import Runtime


async def acquire(runtime: Runtime, name: str) -> int | None:
    """Take `name` if it is free, its owner is dead, or it is already ours; committed at once.

    Returns the owner key it is held under, or None if another live process holds it.
    """
    owner = await runtime.owner.key()
    async with runtime.sessionmaker() as session, session.begin():
        statement = insert(Lease).values(name=name, owner=owner)
        statement = statement.on_conflict_do_update(
            index_elements=[Lease.name],
            set_={"owner": owner},
            where=(Lease.owner == owner) | ~runtime.owner.alive(Lease.owner),
        )
        result = await session.execute(statement.returning(Lease.owner))
        return owner if result.scalar_one_or_none() == owner else None


async def held(session: AsyncSession, name: str, owner: int) -> bool:
    """Whether `owner` still holds `name`; the row stays locked until `session` commits, so
    nobody takes it over between this check and the writes that rely on it."""
    found = await session.scalar(
        select(Lease.owner).where(Lease.name == name).with_for_update(read=True)
    )
    return found == owner


async def release(runtime: Runtime, name: str, owner: int) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))


class LeaseLost(Exception):
    """Another process holds the job now (ours lost its connection, so it counted as dead),
    or this process is stopping: stop without touching the job; what is stored resumes it."""


class Stopping(LeaseLost):
    """This process is shutting down: the job stops at its next step and resumes elsewhere."""


@dataclass(frozen=True)
class HeldLease:
    """The caller's lease on a job, checked in each transaction that records its progress."""

    name: str
    owner: int
    stopping: asyncio.Event

    async def keep(self, session: AsyncSession) -> None:
        """Raise LeaseLost unless we may write this step; the lease row stays locked by
        `session` until it commits, so the check holds for the writes after it."""
        self.check_not_stopping()
        if not await held(session, self.name, self.owner):
            raise self.lost()

    def holds(self) -> ColumnElement[bool]:
        """The lease is still ours, as a condition of the statement that records a step: it
        writes nothing otherwise (the caller raises `lost()`), and the lease row stays
        locked until the transaction commits. A round trip less than `keep`."""
        return exists(
            select(Lease.name)
            .where(Lease.name == self.name, Lease.owner == self.owner)
            .with_for_update(read=True)
        )

    def check_not_stopping(self) -> None:
        """Raise Stopping once this process is shutting down."""
        if self.stopping.is_set():
            raise Stopping(f"stopping: {self.name} resumes from its stored progress")

    def lost(self) -> LeaseLost:
        """What to raise when a write finds the lease no longer ours."""
        return LeaseLost(f"lost the lease {self.name} to another worker")
