"""Who holds a claim or a lease: a live process, proven by a lock on its own connection.

Each process that claims work holds a PostgreSQL advisory lock `(NAMESPACE, key)` on one
connection of its own and writes `key` on what it claims (inbox events, job leases). Work is
taken over when that lock is gone: PostgreSQL drops the lock the moment the connection dies
(kill -9, crash, lost network), so a restarted or surviving process picks up a dead one's work
at once. There is no expiry to wait out, and no heartbeat a busy process could miss: a live
process keeps its claims for as long as it needs them.

SQLite (the demo) runs one process, so there the only live owner is this one.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, column, func, select, table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.log import get_logger

log = get_logger("app.services.ownership")

# The first key of every advisory lock of ours ("GZ"), so other users of advisory locks in
# the same database never collide with us.
NAMESPACE = 0x475A

_pg_locks = table(
    "pg_locks",
    column("locktype"),
    column("database"),
    column("classid"),
    column("objid"),
    column("objsubid"),
    column("granted"),
)
_pg_database = table("pg_database", column("oid"), column("datname"))


class Owner:
    """This process as the holder of claims and leases."""

    def __init__(self, unpooled: AsyncEngine) -> None:
        # Unpooled: closing our connection must really close it (and so drop the lock), not
        # hand it, lock and all, to the next user of a pool.
        self._engine = unpooled
        self._postgres = unpooled.dialect.name == "postgresql"
        self._connection: AsyncConnection | None = None
        self._key: int | None = None
        self._lock = asyncio.Lock()

    async def key(self) -> int:
        """Our key, proven live: if our lock's connection died we take a new key (and so
        give up everything the old one held, which others may already have taken)."""
        async with self._lock:
            if self._key is not None and await self._still_held():
                return self._key
            await self._drop_connection()
            self._key = await self._take_key()
            return self._key

    @property
    def current(self) -> int | None:
        """The key we hold claims under, if we ever took one (unchecked)."""
        return self._key

    def alive(self, owner: Any) -> ColumnElement[bool]:
        """SQL: the owner key in `owner` (a column) belongs to a live process."""
        if not self._postgres:
            return owner == self._key  # type: ignore[no-any-return]
        live = select(cast(_pg_locks.c.objid, BigInteger)).where(
            _pg_locks.c.locktype == "advisory",
            _pg_locks.c.classid == NAMESPACE,
            _pg_locks.c.objsubid == 2,
            _pg_locks.c.granted,
            _pg_locks.c.database
            == select(_pg_database.c.oid)
            .where(_pg_database.c.datname == func.current_database())
            .scalar_subquery(),
        )
        return owner.in_(live)  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Give up everything at once: other processes may take our work from now on."""
        async with self._lock:
            await self._drop_connection()
            self._key = None

    async def _take_key(self) -> int:
        while True:
            key = secrets.randbelow(2**31 - 2) + 1
            if not self._postgres:
                return key
            connection = await self._engine.connect()
            try:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                taken = await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:namespace, :key)"),
                    {"namespace": NAMESPACE, "key": key},
                )
            except BaseException:
                await connection.close()
                raise
            if taken:
                self._connection = connection
                log.info("owner.started", key=key)
                return key
            await connection.close()

    async def _still_held(self) -> bool:
        if not self._postgres:
            return True
        if self._connection is None:
            return False
        try:
            await self._connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("owner.connection_lost", key=self._key)
            return False
        return True

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                # Already dead: PostgreSQL has released the lock with it.
                await connection.invalidate()
