"""The GoCardless account is pinned: another organisation is refused with nothing changed;
switching is an admin's explicit disconnect, which purges the old organisation's data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import respx
from fastapi import FastAPI

from app.adapters.gocardless.models import Customer
from app.models import InboxEvent
from app.services.mirror import store_customers
from tests.foundation.conftest import (
    ADMIN_USER,
    STANDARD_USER,
    MockRouterFactory,
    install,
    sign_in,
)
from tests.foundation.test_installations import assert_problem
from tests.foundation.test_oauth import (
    GC_TOKEN,
    begin,
    fresh_link,
    gocardless_router,
    stored,
)
from tests.sync.conftest import gc_customer

OTHER_TOKEN = {**GC_TOKEN, "access_token": "live_other_token", "organisation_id": "OR999"}


async def authorize_gocardless(client: httpx.AsyncClient, link: str) -> httpx.Response:
    state = (await begin(client, link))["state"][0]
    return await client.get("/oauth/gocardless/callback", params={"code": "c", "state": state})


async def test_another_organisation_is_refused_and_nothing_changes(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI, fixtures_dir: Path
) -> None:
    installed = await install(client)
    router = gocardless_router(mock_router, fixtures_dir)
    assert (
        await authorize_gocardless(client, installed.gocardless_authorize_url)
    ).status_code == 200
    [before] = await stored(app, "gocardless_connections")
    router.routes["token"].respond(200, json=OTHER_TOKEN)
    response = await authorize_gocardless(client, await fresh_link(client, installed, "gocardless"))
    assert response.status_code == 409
    assert "text/html" in response.headers["content-type"]
    assert "gocardless_account_mismatch" in response.text and "OR999" in response.text
    assert await stored(app, "gocardless_connections") == [before]
    # The token we were handed for the other organisation is given back.
    [revoke] = [c for c in router.calls if c.request.url.path == "/oauth/revoke"]
    assert "live_other_token" in revoke.request.content.decode()


async def test_disconnect_then_authorize_another_account_purges_the_old_one(
    mock_router: MockRouterFactory,
    client: httpx.AsyncClient,
    app: FastAPI,
    fixtures_dir: Path,
    zoho_mock: respx.MockRouter,
) -> None:
    installed = await install(client, audience="all_users")
    router = gocardless_router(mock_router, fixtures_dir)
    assert (
        await authorize_gocardless(client, installed.gocardless_authorize_url)
    ).status_code == 200
    now = datetime.now(UTC)
    async with app.state.runtime.sessionmaker() as session, session.begin():
        await store_customers(
            session, installed.installation_id, [Customer.model_validate(gc_customer())], now
        )
        session.add(
            InboxEvent(
                installation_id=installed.installation_id,
                event_id="EV0001",
                resource_type="payments",
                action="created",
                resource_id="PM0001",
                payload={},
                source="webhook",
                next_attempt_at=now,
            )
        )
    standard = await sign_in(client, STANDARD_USER)
    assert_problem(
        await client.delete("/api/v1/installation/gocardless", headers=standard),
        403,
        "admin_required",
    )
    assert len(await stored(app, "gc_customers")) == 1
    admin = await sign_in(client, ADMIN_USER)
    response = await client.delete("/api/v1/installation/gocardless", headers=admin)
    assert response.status_code == 204, response.text
    for table in ("gocardless_connections", "gc_customers", "gc_events"):
        assert await stored(app, table) == [], table
    [revoke] = [c for c in router.calls if c.request.url.path == "/oauth/revoke"]
    assert GC_TOKEN["access_token"] in revoke.request.content.decode()
    assert_problem(
        await client.delete("/api/v1/installation/gocardless", headers=admin),
        409,
        "gocardless_not_authorized",
    )
    router.routes["token"].respond(200, json=OTHER_TOKEN)
    switched = await authorize_gocardless(client, await fresh_link(client, installed, "gocardless"))
    assert switched.status_code == 200, switched.text
    [row] = await stored(app, "gocardless_connections")
    assert row["organisation_id"] == "OR999"
