"""Zoho token refresh: before expiry, once under concurrency (also across processes), revocation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import respx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.runtime import open_runtime
from app.services.zoho_tokens import ZohoTokenStore
from app.settings import Settings
from tests.conftest import ZOHO_ACCOUNTS, ZOHO_API
from tests.foundation.conftest import (
    ADMIN_USER,
    MockRouterFactory,
    connect_zoho,
    install,
    session_due_for_recheck,
)

REFRESHED = {
    "access_token": "1000.fresh-access",
    "api_domain": ZOHO_API,
    "token_type": "Bearer",
    "expires_in": 3600,
}


def refresh_router(
    make: MockRouterFactory, delay: float = 0.05
) -> tuple[respx.MockRouter, respx.Route]:
    router = make()

    async def slow_refresh(request: httpx.Request) -> httpx.Response:
        # Slow enough that every concurrent caller is waiting while the first one refreshes.
        await asyncio.sleep(delay)
        return httpx.Response(200, json=REFRESHED)

    route = router.post(f"{ZOHO_ACCOUNTS}/oauth/v2/token").mock(side_effect=slow_refresh)
    return router, route


async def test_twenty_concurrent_calls_with_an_expired_token_refresh_once(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    await connect_zoho(app, installed, expires_in=timedelta(seconds=-5))
    _, refresh = refresh_router(mock_router)
    store = ZohoTokenStore(app.state.runtime, installed.installation_id)
    tokens = await asyncio.gather(*(store.access_token() for _ in range(20)))
    assert set(tokens) == {"1000.fresh-access"}
    assert refresh.call_count == 1
    form = refresh.calls[0].request.content.decode()
    assert "grant_type=refresh_token" in form and "zoho-refresh-1" in form


async def test_twenty_concurrent_requests_through_the_api_refresh_once(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    await connect_zoho(app, installed, expires_in=timedelta(seconds=-5))
    router, refresh = refresh_router(mock_router)
    seen_tokens: list[str] = []

    def user(request: httpx.Request) -> httpx.Response:
        seen_tokens.append(request.headers["authorization"])
        return httpx.Response(
            200,
            json={
                "users": [
                    {
                        "id": request.url.path.rsplit("/", 1)[1],
                        "status": "active",
                        "profile": {"name": "Administrator", "id": "1"},
                    }
                ]
            },
        )

    router.get(url__regex=rf"{ZOHO_API}/crm/v\d+/users/\d+").mock(side_effect=user)
    responses = await asyncio.gather(
        *(
            client.get(
                "/api/v1/installation",
                headers=session_due_for_recheck(app, installed, str(4150 + i)),
            )
            for i in range(20)
        )
    )
    assert [r.status_code for r in responses] == [200] * 20
    assert refresh.call_count == 1
    assert set(seen_tokens) == {"Zoho-oauthtoken 1000.fresh-access"}


async def test_invalid_token_from_crm_triggers_one_refresh_for_concurrent_callers(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    await connect_zoho(app, installed, access_token="revoked-early")
    store = ZohoTokenStore(app.state.runtime, installed.installation_id)
    _, refresh = refresh_router(mock_router)
    stale = await store.access_token()
    fresh = await asyncio.gather(*(store.refreshed_access_token(stale) for _ in range(20)))
    assert set(fresh) == {"1000.fresh-access"}
    assert refresh.call_count == 1


async def test_two_processes_refresh_once(
    mock_router: MockRouterFactory,
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    clean_db: AsyncEngine,
) -> None:
    """Separate runtimes share nothing in memory, as two worker processes would."""
    installed = await install(client)
    await connect_zoho(app, installed, expires_in=timedelta(seconds=-5))
    _, refresh = refresh_router(mock_router, delay=0.2)
    async with open_runtime(settings) as other:
        stores = [
            ZohoTokenStore(runtime, installed.installation_id)
            for runtime in (app.state.runtime, other)
            for _ in range(5)
        ]
        tokens = await asyncio.gather(*(s.access_token() for s in stores))
    assert set(tokens) == {"1000.fresh-access"}
    assert refresh.call_count == 1


async def test_token_is_refreshed_shortly_before_expiry(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    await connect_zoho(app, installed, expires_in=timedelta(minutes=2))
    _, refresh = refresh_router(mock_router, delay=0)
    token = await ZohoTokenStore(app.state.runtime, installed.installation_id).access_token()
    assert token == "1000.fresh-access" and refresh.call_count == 1


async def test_refresh_never_overwrites_the_refresh_token(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    await connect_zoho(app, installed, expires_in=timedelta(seconds=-5))
    refresh_router(mock_router, delay=0)
    await ZohoTokenStore(app.state.runtime, installed.installation_id).access_token()
    async with app.state.runtime.engine.connect() as connection:
        encrypted = (
            await connection.execute(text("SELECT refresh_token_enc FROM zoho_connections"))
        ).scalar_one()
    assert app.state.runtime.cipher.decrypt(encrypted) == "zoho-refresh-1"


async def test_revoked_refresh_token_asks_for_reauthorization(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    await connect_zoho(app, installed, expires_in=timedelta(seconds=-5))
    router = mock_router(assert_all_called=False)
    refresh = router.post(f"{ZOHO_ACCOUNTS}/oauth/v2/token").respond(
        200, json={"error": "invalid_code"}
    )
    headers = session_due_for_recheck(app, installed, ADMIN_USER)
    first = await client.get("/api/v1/installation", headers=headers)
    second = await client.get("/api/v1/installation", headers=installed.headers())
    assert first.status_code == 409, first.text
    assert first.json()["code"] == "zoho_not_authorized"
    # Whether the user is still an admin could not be re-checked: no authorize link for them.
    assert "authorize_url" not in first.json()
    # The connection now says so: the status page shows it instead of failing with a 409/500.
    assert second.status_code == 200
    assert second.json()["zoho"]["status"] == "needs_reauthorization"
    assert second.json()["zoho"]["connected"] is False
    assert refresh.call_count == 1
