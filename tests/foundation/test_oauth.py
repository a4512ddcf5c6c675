"""Both OAuth flows through the browser endpoints, with respx standing in for the providers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import text

from app.crypto import TokenCipher
from tests.conftest import GOCARDLESS_API, GOCARDLESS_CONNECT, ZOHO_ACCOUNTS, ZOHO_API
from tests.foundation.conftest import (
    ORG_ID,
    Installed,
    MockRouterFactory,
    install,
    zoho_org_body,
)

ZOHO_TOKEN = {
    "access_token": "1000.zoho-access-token-abc",
    "refresh_token": "1000.zoho-refresh-token-xyz",
    "api_domain": ZOHO_API,
    "token_type": "Bearer",
    "expires_in": 3600,
}
GC_TOKEN = {
    "access_token": "live_gc_access_token_123",
    "scope": "read_write",
    "token_type": "bearer",
    "organisation_id": "OR123",
    "email": "owner@acme.example",
}


def creditors_body(fixtures_dir: Path, verification_status: str) -> dict[str, Any]:
    fixture = json.loads((fixtures_dir / "creditors.json").read_text())["list"]["body"]
    fixture["creditors"][0]["id"] = "CR123"
    fixture["creditors"][0]["verification_status"] = verification_status
    fixture["meta"]["cursors"] = {"before": None, "after": None}
    return dict(fixture)


async def begin(client: httpx.AsyncClient, url: str) -> dict[str, list[str]]:
    """Follow our start link and return the provider URL's query."""
    response = await client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)


async def fresh_link(client: httpx.AsyncClient, installed: Installed, provider: str) -> str:
    """A new authorize link (each is single use), as an admin's settings page gets it."""
    response = await client.get("/api/v1/installation", headers=installed.headers())
    link: str = response.json()[provider]["authorize_url"]
    return link


async def stored(app: FastAPI, table: str) -> list[dict[str, Any]]:
    async with app.state.runtime.engine.connect() as connection:
        rows = (await connection.execute(text(f"SELECT * FROM {table}"))).mappings().all()
    return [dict(row) for row in rows]


@pytest.fixture
def zoho_accounts() -> Iterator[respx.MockRouter]:
    router = respx.mock(assert_all_called=False)
    router.post(f"{ZOHO_ACCOUNTS}/oauth/v2/token", name="token").respond(200, json=ZOHO_TOKEN)
    router.post(url__startswith=f"{ZOHO_ACCOUNTS}/oauth/v2/token/revoke").respond(
        200, json={"status": "success"}
    )
    router.get(url__regex=rf"{ZOHO_API}/crm/v\d+/org").respond(200, json=zoho_org_body())
    with router:
        yield router


async def test_zoho_start_redirects_to_accounts_with_offline_consent(
    client: httpx.AsyncClient,
) -> None:
    installed = await install(client)
    response = await client.get(installed.zoho_authorize_url.removeprefix("http://testserver"))
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{ZOHO_ACCOUNTS}/oauth/v2/auth"
    )
    query = parse_qs(location.query)
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["zoho-client"]
    assert query["redirect_uri"] == ["http://testserver/oauth/zoho/callback"]
    assert query["state"][0]


async def test_zoho_callback_stores_encrypted_tokens(
    client: httpx.AsyncClient, app: FastAPI, zoho_accounts: respx.MockRouter
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    response = await client.get(
        "/oauth/zoho/callback",
        params={
            "code": "1000.code",
            "state": state,
            "location": "us",
            "accounts-server": ZOHO_ACCOUNTS,
        },
    )
    assert response.status_code == 200, response.text
    assert "text/html" in response.headers["content-type"]
    assert "connected" in response.text
    [row] = await stored(app, "zoho_connections")
    assert row["org_id"] == ORG_ID and row["api_domain"] == ZOHO_API
    raw = json.dumps(row, default=str)
    assert ZOHO_TOKEN["access_token"] not in raw and ZOHO_TOKEN["refresh_token"] not in raw
    cipher: TokenCipher = app.state.runtime.cipher
    assert cipher.decrypt(row["refresh_token_enc"]) == ZOHO_TOKEN["refresh_token"]
    assert cipher.decrypt(row["access_token_enc"]) == ZOHO_TOKEN["access_token"]
    exchange = zoho_accounts.calls[0].request
    assert parse_qs(exchange.content.decode())["code"] == ["1000.code"]


async def test_zoho_state_is_single_use(
    client: httpx.AsyncClient, app: FastAPI, zoho_accounts: respx.MockRouter
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    params = {"code": "1000.code", "state": state, "accounts-server": ZOHO_ACCOUNTS}
    assert (await client.get("/oauth/zoho/callback", params=params)).status_code == 200
    again = await client.get("/oauth/zoho/callback", params=params)
    assert again.status_code == 400
    assert "already used" in again.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"error": "access_denied"}, "denied"),
        ({"code": "1000.code", "state": "forged.state.value"}, "invalid"),
        ({"code": "1000.code"}, "without a state"),
    ],
)
async def test_zoho_callback_failures_store_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    zoho_accounts: respx.MockRouter,
    params: dict[str, str],
    message: str,
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    if "error" in params:
        params = {**params, "state": state}
    response = await client.get("/oauth/zoho/callback", params=params)
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert message in response.text
    assert await stored(app, "zoho_connections") == []
    assert not zoho_accounts.calls


async def test_zoho_error_reported_with_http_200_is_a_failure(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    router = mock_router()
    router.post(f"{ZOHO_ACCOUNTS}/oauth/v2/token").respond(200, json={"error": "invalid_code"})
    response = await client.get(
        "/oauth/zoho/callback",
        params={"code": "used", "state": state, "accounts-server": ZOHO_ACCOUNTS},
    )
    assert response.status_code == 400
    assert "invalid_code" in response.text
    assert await stored(app, "zoho_connections") == []


async def test_zoho_unknown_accounts_server_never_gets_our_secret(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    router = mock_router(assert_all_mocked=True)
    evil = router.post(url__startswith="https://accounts.evil.example").respond(200, json={})
    response = await client.get(
        "/oauth/zoho/callback",
        params={
            "code": "1000.code",
            "state": state,
            "accounts-server": "https://accounts.evil.example",
        },
    )
    assert response.status_code == 400
    assert not evil.called
    assert await stored(app, "zoho_connections") == []


async def test_zoho_data_centre_from_callback_is_used(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    eu_token = {**ZOHO_TOKEN, "api_domain": "https://www.zohoapis.eu"}
    router = mock_router()
    exchange = router.post("https://accounts.zoho.eu/oauth/v2/token").respond(200, json=eu_token)
    org = router.get(url__regex=r"https://www\.zohoapis\.eu/crm/v\d+/org").respond(
        200, json=zoho_org_body()
    )
    response = await client.get(
        "/oauth/zoho/callback",
        params={
            "code": "1000.code",
            "state": state,
            "location": "eu",
            "accounts-server": "https://accounts.zoho.eu",
        },
    )
    assert response.status_code == 200, response.text
    assert exchange.called and org.called
    [row] = await stored(app, "zoho_connections")
    assert row["accounts_server"] == "https://accounts.zoho.eu"
    assert row["api_domain"] == "https://www.zohoapis.eu"


async def test_zoho_org_mismatch_is_refused_and_token_revoked(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    router = mock_router()
    router.post(f"{ZOHO_ACCOUNTS}/oauth/v2/token").respond(200, json=ZOHO_TOKEN)
    router.get(url__regex=rf"{ZOHO_API}/crm/v\d+/org").respond(200, json=zoho_org_body("99999"))
    revoke = router.post(url__startswith=f"{ZOHO_ACCOUNTS}/oauth/v2/token/revoke").respond(
        200, json={"status": "success"}
    )
    response = await client.get(
        "/oauth/zoho/callback",
        params={"code": "c", "state": state, "accounts-server": ZOHO_ACCOUNTS},
    )
    assert response.status_code == 400
    assert "99999" in response.text and ORG_ID in response.text
    assert revoke.called
    assert await stored(app, "zoho_connections") == []


async def test_zoho_reauthorization_replaces_tokens_and_revokes_the_old_one(
    client: httpx.AsyncClient, app: FastAPI, zoho_accounts: respx.MockRouter
) -> None:
    installed = await install(client)
    for refresh_token in ("1000.first-refresh", "1000.second-refresh"):
        zoho_accounts.routes["token"].respond(
            200, json={**ZOHO_TOKEN, "refresh_token": refresh_token}
        )
        state = (await begin(client, await fresh_link(client, installed, "zoho")))["state"][0]
        response = await client.get(
            "/oauth/zoho/callback",
            params={"code": "c", "state": state, "accounts-server": ZOHO_ACCOUNTS},
        )
        assert response.status_code == 200
    [row] = await stored(app, "zoho_connections")
    assert app.state.runtime.cipher.decrypt(row["refresh_token_enc"]) == "1000.second-refresh"
    revoked = [c.request.url for c in zoho_accounts.calls if "revoke" in c.request.url.path]
    assert len(revoked) == 1 and "first-refresh" in str(revoked[0])


async def test_bad_or_tampered_start_link_is_an_html_400(client: httpx.AsyncClient) -> None:
    installed = await install(client)
    tampered = installed.zoho_authorize_url[:-3] + "abc"
    for url in (
        tampered,
        "/oauth/zoho/start",
        installed.gocardless_authorize_url.replace("gocardless/start", "zoho/start"),
    ):
        response = await client.get(url.removeprefix("http://testserver"))
        assert response.status_code == 400, url
        assert "text/html" in response.headers["content-type"]


async def gocardless_flow(
    client: httpx.AsyncClient, installed: Installed, router: respx.MockRouter, code: str = "gc-code"
) -> httpx.Response:
    state = (await begin(client, installed.gocardless_authorize_url))["state"][0]
    return await client.get("/oauth/gocardless/callback", params={"code": code, "state": state})


def gocardless_router(
    make: MockRouterFactory, fixtures_dir: Path, verification_status: str = "successful"
) -> respx.MockRouter:
    router = make()
    router.post(f"{GOCARDLESS_CONNECT}/oauth/access_token", name="token").respond(
        200, json=GC_TOKEN
    )
    router.get(f"{GOCARDLESS_API}/creditors").respond(
        200, json=creditors_body(fixtures_dir, verification_status)
    )
    router.post(f"{GOCARDLESS_CONNECT}/oauth/revoke", name="revoke").respond(200, json={})
    return router


async def test_gocardless_start_redirects_to_connect(client: httpx.AsyncClient) -> None:
    installed = await install(client)
    response = await client.get(
        installed.gocardless_authorize_url.removeprefix("http://testserver")
    )
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{GOCARDLESS_CONNECT}/oauth/authorize"
    )
    query = parse_qs(location.query)
    assert query["scope"] == ["read_write"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/oauth/gocardless/callback"]


async def test_gocardless_callback_stores_token_and_creditor_status(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI, fixtures_dir: Path
) -> None:
    installed = await install(client)
    router = gocardless_router(mock_router, fixtures_dir)
    response = await gocardless_flow(client, installed, router)
    assert response.status_code == 200, response.text
    [row] = await stored(app, "gocardless_connections")
    assert row["organisation_id"] == "OR123" and row["creditor_id"] == "CR123"
    assert row["verification_status"] == "successful"
    assert GC_TOKEN["access_token"] not in json.dumps(row, default=str)
    assert app.state.runtime.cipher.decrypt(row["access_token_enc"]) == GC_TOKEN["access_token"]
    creditors_call = next(c for c in router.calls if c.request.url.path == "/creditors")
    assert creditors_call.request.headers["authorization"] == f"Bearer {GC_TOKEN['access_token']}"
    assert creditors_call.request.headers["gocardless-version"] == "2015-07-06"


async def test_gocardless_inactive_account_is_stored_and_reported(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI, fixtures_dir: Path
) -> None:
    installed = await install(client)
    response = await gocardless_flow(
        client, installed, gocardless_router(mock_router, fixtures_dir, "action_required")
    )
    assert response.status_code == 200
    assert "not verified" in response.text
    status = (await client.get("/api/v1/installation", headers=installed.headers())).json()
    assert status["gocardless"]["connected"] is True
    assert status["gocardless"]["active"] is False
    assert status["gocardless"]["verification_status"] == "action_required"
    assert "more information" in status["gocardless"]["inactive_reason"]


async def test_gocardless_refused_code_stores_nothing(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI, fixtures_dir: Path
) -> None:
    installed = await install(client)
    router = gocardless_router(mock_router, fixtures_dir)
    router.routes["token"].respond(
        400, json={"error": "invalid_grant", "error_description": "The code has already been used"}
    )
    response = await gocardless_flow(client, installed, router)
    assert response.status_code == 400
    assert await stored(app, "gocardless_connections") == []


async def test_gocardless_account_cannot_serve_two_installations(
    mock_router: MockRouterFactory, client: httpx.AsyncClient, app: FastAPI, fixtures_dir: Path
) -> None:
    first = await install(client, org_id="1")
    second = await install(client, org_id="2")
    assert (
        await gocardless_flow(client, first, gocardless_router(mock_router, fixtures_dir))
    ).status_code == 200
    response = await gocardless_flow(client, second, gocardless_router(mock_router, fixtures_dir))
    assert response.status_code == 400
    assert "already connected" in response.text
    assert len(await stored(app, "gocardless_connections")) == 1


async def test_gocardless_denied_consent(client: httpx.AsyncClient, app: FastAPI) -> None:
    installed = await install(client)
    state = (await begin(client, installed.gocardless_authorize_url))["state"][0]
    response = await client.get(
        "/oauth/gocardless/callback", params={"error": "access_denied", "state": state}
    )
    assert response.status_code == 400 and "denied" in response.text
    assert await stored(app, "gocardless_connections") == []
