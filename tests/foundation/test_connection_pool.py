"""The pool pings a connection only after it sat idle, and never hands out a dead one."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import app.db
from app.db import create_engine


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))


async def _kill(admin: AsyncEngine, pid: int) -> None:
    async with admin.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_a_connection_killed_while_idle_is_replaced_at_checkout(
    migrated_database: str, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.db, "PING_IDLE_SECONDS", 0.0)
    pool = create_engine(migrated_database, pool_size=1, max_overflow=0)
    try:
        killed = await _backend_pid(pool)
        await _kill(engine, killed)  # a database restart, a dropped connection
        # No error reaches the caller: the ping found it dead and the pool connected again.
        assert await _backend_pid(pool) != killed
    finally:
        await pool.dispose()


@pytest.mark.parametrize(("idle_seconds", "pings"), [(3600.0, 0), (0.0, 20)])
async def test_only_a_connection_idle_for_a_while_is_pinged(
    migrated_database: str, monkeypatch: pytest.MonkeyPatch, idle_seconds: float, pings: int
) -> None:
    monkeypatch.setattr(app.db, "PING_IDLE_SECONDS", idle_seconds)
    pool = create_engine(migrated_database, pool_size=1, max_overflow=0)
    dialect = pool.sync_engine.dialect
    real_ping = dialect.do_ping
    pinged: list[object] = []

    def counting_ping(dbapi_connection: object) -> bool:
        pinged.append(dbapi_connection)
        return bool(real_ping(dbapi_connection))  # type: ignore[arg-type]

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    try:
        first = await _backend_pid(pool)
        for _ in range(20):
            assert await _backend_pid(pool) == first
        assert len(pinged) == pings
    finally:
        await pool.dispose()
