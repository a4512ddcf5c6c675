"""Every answer to a write is sent only after its transaction committed.

What a client (GoCardless, a browser) is told must already be in the database: the checks run
at the moment the response *starts*, on another connection, so a commit that still runs after
the answer would be caught. A commit that fails must not be acknowledged either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.foundation.conftest import install
from tests.sync.conftest import Connected, event, webhook

Check = Callable[[], Awaitable[Any]]


@asynccontextmanager
async def observed_client(app: FastAPI, check: Check) -> AsyncIterator[list[Any]]:
    """A client whose every response start runs `check` first; yields what each check saw."""
    seen: list[Any] = []

    async def observing(scope: Any, receive: Any, send: Any) -> None:
        async def send_after_check(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen.append(await check())
            await send(message)

        await app(scope, receive, send_after_check)

    transport = httpx.ASGITransport(app=observing, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        app.state.observed = client
        yield seen


async def count(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(sql))).scalar_one())


@asynccontextmanager
async def failing_commits(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    """Every transaction that inserts into `table` fails at COMMIT (a deferred trigger)."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$"
            )
        )
        await connection.execute(
            text(
                f"CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TRIGGER refuse_commit ON {table}"))
            await connection.execute(text("DROP FUNCTION refuse_commit()"))


async def test_webhook_is_acknowledged_only_once_its_events_are_stored(
    connected: Connected,
) -> None:
    engine = connected.app.state.runtime.engine
    body, headers = webhook([event("EV001", "payments", "confirmed", {"payment": "PM001"})])

    async def stored() -> int:
        return await count(engine, "SELECT count(*) FROM gc_events")

    async with observed_client(connected.app, stored) as seen:
        response = await connected.app.state.observed.post(
            "/webhooks/gocardless", content=body, headers=headers
        )
    assert response.status_code == 204
    assert seen == [1]


async def test_a_failed_commit_is_a_5xx_and_the_redelivery_is_stored(
    client: httpx.AsyncClient, connected: Connected
) -> None:
    engine = connected.app.state.runtime.engine
    body, headers = webhook([event("EV001", "payments", "confirmed", {"payment": "PM001"})])
    async with failing_commits(engine, "gc_events"):
        refused = await client.post("/webhooks/gocardless", content=body, headers=headers)
    # Not acknowledged, so GoCardless delivers it again; nothing half-stored meanwhile.
    assert refused.status_code == 500
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "internal_error"
    assert await count(engine, "SELECT count(*) FROM gc_events") == 0

    redelivered = await client.post("/webhooks/gocardless", content=body, headers=headers)
    assert redelivered.status_code == 204
    assert await count(engine, "SELECT count(*) FROM gc_events WHERE event_id = 'EV001'") == 1


async def test_oauth_state_exists_when_the_redirect_arrives(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    engine = app.state.runtime.engine

    async def states() -> int:
        return await count(engine, "SELECT count(*) FROM oauth_states")

    async with observed_client(app, states) as seen:
        response = await app.state.observed.get(
            installed.zoho_authorize_url.removeprefix("http://testserver")
        )
    assert response.status_code == 302
    assert seen == [1]


async def test_installation_key_is_shown_only_once_it_is_stored(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    engine = app.state.runtime.engine

    async def installations() -> int:
        return await count(engine, "SELECT count(*) FROM installations")

    async with observed_client(app, installations) as seen:
        await install(app.state.observed)
    assert seen == [1]
