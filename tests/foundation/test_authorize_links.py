"""Authorize links: handed to admins, valid 15 minutes, single use, and the OAuth flow they
start can only be finished in the browser that started it."""

from __future__ import annotations

from datetime import timedelta

import httpx
import respx
from fastapi import FastAPI

from tests.conftest import ZOHO_ACCOUNTS
from tests.foundation.conftest import install
from tests.foundation.test_identity import freeze_clock, move_clock
from tests.foundation.test_oauth import (  # noqa: F401  (fixture)
    begin,
    fresh_link,
    stored,
    zoho_accounts,
)


async def test_a_link_works_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    zoho_accounts: respx.MockRouter,  # noqa: F811
) -> None:
    installed = await install(client)
    link = await fresh_link(client, installed, "zoho")
    await begin(client, link)
    again = await client.get(link.removeprefix("http://testserver"))
    assert again.status_code == 400 and "already used" in again.text


async def test_a_link_expires_after_15_minutes(client: httpx.AsyncClient, app: FastAPI) -> None:
    installed = await install(client)
    freeze_clock(app)
    kept = await fresh_link(client, installed, "gocardless")
    late = await fresh_link(client, installed, "gocardless")
    move_clock(app, timedelta(minutes=14, seconds=59))
    assert (await client.get(kept.removeprefix("http://testserver"))).status_code == 302
    move_clock(app, timedelta(seconds=2))
    expired = await client.get(late.removeprefix("http://testserver"))
    assert expired.status_code == 400 and "expired" in expired.text


async def test_a_flow_finished_in_another_browser_fails_and_stores_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    zoho_accounts: respx.MockRouter,  # noqa: F811
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    params = {"code": "1000.code", "state": state, "accounts-server": ZOHO_ACCOUNTS}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        stolen = await other.get("/oauth/zoho/callback", params=params)
        other.cookies.set("gcz_browser", "someone-elses-browser-id-0123456789", path="/oauth")
        forged = await other.get("/oauth/zoho/callback", params=params)
    for response in (stolen, forged):
        assert response.status_code == 400 and "another browser" in response.text
    assert await stored(app, "zoho_connections") == []
    assert not zoho_accounts.calls
    # The browser that started it can still finish it.
    assert (await client.get("/oauth/zoho/callback", params=params)).status_code == 200
