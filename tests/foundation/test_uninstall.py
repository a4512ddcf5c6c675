"""Uninstall: best-effort revocation at both providers, data deleted, key dead, idempotent."""

from __future__ import annotations

import httpx
import respx
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import GOCARDLESS_CONNECT, ZOHO_ACCOUNTS
from tests.foundation.conftest import connect_gocardless, connect_zoho, install


async def counts(app: FastAPI) -> dict[str, int]:
    tables = ["zoho_connections", "gocardless_connections", "oauth_states"]
    async with app.state.runtime.engine.connect() as connection:
        return {
            table: (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in tables
        }


async def test_uninstall_revokes_deletes_and_kills_the_key(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    installed = await install(client)
    other = await install(client, org_id="other-org")
    await client.get(installed.zoho_authorize_url.removeprefix("http://testserver"))
    await connect_zoho(app, installed)
    await connect_gocardless(app, installed)
    await connect_gocardless(app, other, organisation_id="OR_OTHER", access_token="other-token")
    zoho_revoke = zoho_mock.post(url__startswith=f"{ZOHO_ACCOUNTS}/oauth/v2/token/revoke").respond(
        200, json={"status": "success"}
    )
    gc_revoke = zoho_mock.post(f"{GOCARDLESS_CONNECT}/oauth/revoke").respond(200, json={})
    response = await client.delete("/api/v1/installation", headers=installed.headers())
    assert response.status_code == 204, response.text
    again = await client.delete("/api/v1/installation", headers=installed.headers())
    assert again.status_code == 204
    assert zoho_revoke.call_count == 1 and "zoho-refresh-1" in str(zoho_revoke.calls[0].request.url)
    assert gc_revoke.call_count == 1 and b"gc-access-1" in gc_revoke.calls[0].request.content
    assert await counts(app) == {
        "zoho_connections": 0,
        "gocardless_connections": 1,
        "oauth_states": 0,
    }
    status = await client.get("/api/v1/installation", headers=installed.headers())
    assert status.status_code == 401
    # The other installation is untouched and the org may install again.
    assert (await client.get("/api/v1/installation", headers=other.headers())).status_code == 200
    reinstalled = await install(client)
    assert reinstalled.installation_id != installed.installation_id


async def test_uninstall_goes_ahead_when_providers_refuse_revocation(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    installed = await install(client)
    await connect_zoho(app, installed)
    await connect_gocardless(app, installed)
    zoho_mock.post(url__startswith=f"{ZOHO_ACCOUNTS}/oauth/v2/token/revoke").respond(400)
    zoho_mock.post(f"{GOCARDLESS_CONNECT}/oauth/revoke").respond(503)
    response = await client.delete("/api/v1/installation", headers=installed.headers())
    assert response.status_code == 204
    assert await counts(app) == {
        "zoho_connections": 0,
        "gocardless_connections": 0,
        "oauth_states": 0,
    }


async def test_uninstall_before_authorizing_anything(client: httpx.AsyncClient) -> None:
    installed = await install(client)
    response = await client.delete("/api/v1/installation", headers=installed.headers())
    assert response.status_code == 204
    assert (
        await client.get("/api/v1/installation", headers=installed.headers())
    ).status_code == 401


async def test_uninstalled_installation_link_cannot_authorize(client: httpx.AsyncClient) -> None:
    installed = await install(client)
    await client.delete("/api/v1/installation", headers=installed.headers())
    response = await client.get(installed.zoho_authorize_url.removeprefix("http://testserver"))
    assert response.status_code == 400 and "no longer exists" in response.text
