"""Engine and sessions: one engine per process, one session per request or job."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Collection, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic_core import from_json, to_json
from sqlalchemy import ARRAY, ColumnElement, any_, bindparam, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.pool import NullPool

from app.errors import AppError

SessionMaker = async_sessionmaker[AsyncSession]
T = TypeVar("T")


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    wait_for_flush: bool = True,
) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        # The demo's embedded file: one writer at a time, foreign keys on.
        engine = create_async_engine(
            database_url,
            poolclass=NullPool,
            connect_args={"timeout": 30},
            hide_parameters=True,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Statement parameters (tokens, emails) never reach logs or exception messages.
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        hide_parameters=True,
        connect_args=({} if wait_for_flush else {"server_settings": {"synchronous_commit": "off"}}),
        json_serializer=_json_text,
        json_deserializer=from_json,
    )
    _ping_idle_connections(engine)
    return engine


def _json_text(value: Any) -> str:
    # pydantic-core's encoder (and decoder, below): the stdlib's took a tenth of the webhook
    # receiver's CPU on batches of 100 events (each event's payload is a JSON column).
    return to_json(value).decode()


# A connection in use a moment ago is alive. `pool_pre_ping` pings at every checkout, three
# round trips with asyncpg (BEGIN, a query, ROLLBACK): more than the work of most of our
# transactions, and a tenth of Sync Now's CPU. Only a connection idle for longer than this
# is pinged (a database restart or a dropped connection happens while it sits idle).
PING_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and checks out another (a fresh one if need be).
            raise DisconnectionError("idle connection is gone") from exc


def create_unpooled_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same database without a pool: each session opens and closes its own connection.

    For the rare writes that must commit whatever happens to the request that needs them
    (a Zoho token refresh) and so cannot share its transaction: taking a second connection
    from the request pool while holding one is how a burst of requests drains the pool and
    waits on itself until every one of them times out.
    """
    if engine.dialect.name == "sqlite":
        return engine
    return create_async_engine(engine.url, poolclass=NullPool)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def one_of(
    session: AsyncSession,
    column: ColumnElement[Any] | InstrumentedAttribute[Any],
    values: Collection[Any],
) -> ColumnElement[bool]:
    """`column IN values`, on PostgreSQL as `column = ANY(array)`: one parameter however many
    values, so one statement text, one plan, and no per-value work in the client (building
    and expanding an IN list of a hundred ids cost more of our CPU than the query took the
    database). SQLite (the demo) has no arrays and keeps the IN list."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def create_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """Commit on success, roll back on error; services only flush.

    An error raised with `keeping_changes()` commits too: it refuses the request but keeps
    what the request learned (a payment's status GoCardless just reported), in the request's
    one connection rather than a second one.
    """
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except AppError as exc:
            if exc.keeps_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise


async def uninterrupted(work: Coroutine[Any, Any, T]) -> T:
    """Run a unit of database work to its end even if the caller is cancelled meanwhile,
    then pass the cancellation on.

    A transaction cut off in the middle of a statement (asyncpg pipelines an executemany)
    can leave its connection holding row locks while the server waits for the rest; the
    next run would then wait on those locks for ever. Our units of work are short (a page,
    a batch's outcome), so finishing them first costs little.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller hears of
        raise


__all__ = [
    "Engine",
    "SessionMaker",
    "create_engine",
    "create_sessionmaker",
    "create_unpooled_engine",
    "session_scope",
    "uninterrupted",
]
