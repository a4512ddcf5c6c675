"""Named, expiring leases in the database: one worker per job, healed when a worker dies."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionMaker
from app.models import Lease

# One id per process; a worker's tasks share it, which is fine: each holds different names.
WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def acquire(
    sessionmaker: SessionMaker, name: str, ttl: timedelta, owner: str = WORKER_ID
) -> bool:
    """Take `name` if it is free, expired, or already ours; committed at once."""
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        statement = insert(Lease).values(name=name, owner=owner, expires_at=now + ttl)
        statement = statement.on_conflict_do_update(
            index_elements=[Lease.name],
            set_={"owner": owner, "expires_at": now + ttl},
            where=(Lease.expires_at < now) | (Lease.owner == owner),
        )
        result = await session.execute(statement.returning(Lease.owner))
        return result.scalar_one_or_none() == owner


async def renew(session: AsyncSession, name: str, ttl: timedelta, owner: str = WORKER_ID) -> bool:
    result = await session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.owner == owner)
        .values(expires_at=datetime.now(UTC) + ttl)
        .returning(Lease.name)
    )
    return result.scalar_one_or_none() is not None


async def release(sessionmaker: SessionMaker, name: str, owner: str = WORKER_ID) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))
