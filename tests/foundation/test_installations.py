"""Operator creation, API-key auth, the audience rule, status, isolation between installations."""

from __future__ import annotations

import asyncio

import httpx
import respx
from fastapi import FastAPI
from sqlalchemy import text

from app.crypto import hash_api_key
from tests.foundation.conftest import (
    ADMIN_HEADERS,
    ADMIN_USER,
    INACTIVE_USER,
    STANDARD_PROFILE_ID,
    STANDARD_USER,
    connect_gocardless,
    connect_zoho,
    install,
    sign_in,
    sign_in_response,
)

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


async def test_operator_creates_installation_and_key_is_stored_only_as_hash(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    installed = await install(client)
    assert installed.api_key.startswith("gcz_") and len(installed.api_key) > 40
    assert installed.zoho_authorize_url.startswith("http://testserver/oauth/zoho/start?link=")
    assert installed.gocardless_authorize_url.startswith(
        "http://testserver/oauth/gocardless/start?link="
    )
    async with app.state.runtime.engine.connect() as connection:
        dump = (await connection.execute(text("SELECT key_hash, key_prefix FROM api_keys"))).all()
    assert dump == [(hash_api_key(installed.api_key), installed.api_key[:12])]


async def test_operator_token_is_required(client: httpx.AsyncClient) -> None:
    body = {"zoho_org_id": "1", "audience": "admins", "profile_ids": []}
    assert_problem(await client.post("/api/v1/installations", json=body), 401, "unauthenticated")
    wrong = {"Authorization": "Bearer nope"}
    assert_problem(
        await client.post("/api/v1/installations", json=body, headers=wrong), 401, "unauthenticated"
    )


async def test_second_active_installation_for_org_is_refused(client: httpx.AsyncClient) -> None:
    await install(client)
    response = await client.post(
        "/api/v1/installations",
        headers=ADMIN_HEADERS,
        json={"zoho_org_id": "60012345678", "audience": "all_users", "profile_ids": []},
    )
    assert_problem(response, 409, "installation_exists")


async def test_concurrent_installs_of_one_org_create_exactly_one(
    client: httpx.AsyncClient,
) -> None:
    body = {"zoho_org_id": "777", "audience": "admins", "profile_ids": []}
    responses = await asyncio.gather(
        *(client.post("/api/v1/installations", headers=ADMIN_HEADERS, json=body) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7


async def test_bad_bodies_are_problems(client: httpx.AsyncClient) -> None:
    post = client.post
    bad_audience = {"zoho_org_id": "1", "audience": "everyone", "profile_ids": []}
    body = assert_problem(
        await post("/api/v1/installations", headers=ADMIN_HEADERS, json=bad_audience),
        422,
        "validation_failed",
    )
    assert "audience" in str(body["detail"])
    no_profiles = {"zoho_org_id": "1", "audience": "profiles", "profile_ids": []}
    assert_problem(
        await post("/api/v1/installations", headers=ADMIN_HEADERS, json=no_profiles),
        422,
        "validation_failed",
    )
    assert_problem(
        await post(
            "/api/v1/installations",
            headers={**ADMIN_HEADERS, "content-type": "application/json"},
            content=b"{not json",
        ),
        400,
        "bad_request",
    )


async def test_widget_needs_a_session_or_the_key(client: httpx.AsyncClient) -> None:
    installed = await install(client)
    missing = await client.get("/api/v1/installation")
    assert_problem(missing, 401, "unauthenticated")
    assert missing.headers["www-authenticate"] == "Bearer"
    for headers in (
        {"Authorization": "Bearer gcz_unknown"},
        {"Authorization": "Bearer not-a-session"},
        # v1's claimed user id means nothing any more.
        {"X-Zoho-User-Id": ADMIN_USER},
    ):
        response = await client.get("/api/v1/installation", headers=headers)
        assert_problem(response, 401, "unauthenticated")
    with_key = await client.get("/api/v1/installation", headers=installed.headers())
    assert with_key.status_code == 200


async def test_status_before_anything_is_connected(client: httpx.AsyncClient) -> None:
    installed = await install(client)
    response = await client.get("/api/v1/installation", headers=installed.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["installation_id"] == str(installed.installation_id)
    assert body["audience"] == "admins"
    assert body["zoho"]["connected"] is False and body["zoho"]["status"] == "not_connected"
    assert body["zoho"]["authorize_url"].startswith("http://testserver/oauth/zoho/start?link=")
    gocardless = body["gocardless"]
    assert gocardless["connected"] is False and gocardless["active"] is False
    assert gocardless["environment"] == "sandbox"
    assert gocardless["authorize_url"].startswith("http://testserver/oauth/gocardless/start")
    assert body["sync"] | {"stage": None} == body["sync"]
    assert {k: body["sync"][k] for k in list(body["sync"])[:5]} == {
        "state": "not_started",
        "can_sync_now": False,
        "customers_synced": 0,
        "payments_synced": 0,
        "progress": 0.0,
    }


async def test_admins_audience(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    installed = await install(client, audience="admins")
    await connect_zoho(app, installed)
    await connect_gocardless(app, installed)
    ok = await client.get("/api/v1/installation", headers=await sign_in(client, ADMIN_USER))
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["zoho"] | {"authorize_url": None} == {
        "connected": True,
        "org_id": "60012345678",
        "status": "connected",
        "authorize_url": None,
    }
    assert body["gocardless"]["active"] is True
    assert body["sync"]["can_sync_now"] is True
    for refused in (STANDARD_USER, INACTIVE_USER):
        page = await sign_in_response(client, refused)
        assert page.status_code == 403 and "text/html" in page.headers["content-type"]
        assert "gocardless-zoho-session" not in page.text


async def test_profiles_and_all_users_audiences(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    by_profile = await install(
        client, org_id="1", audience="profiles", profile_ids=[STANDARD_PROFILE_ID]
    )
    everyone = await install(client, org_id="2", audience="all_users")
    await connect_zoho(app, by_profile, org_id="1")
    await connect_zoho(app, everyone, org_id="2")
    for user, org, expected in (
        (STANDARD_USER, "1", 200),
        (ADMIN_USER, "1", 403),
        (STANDARD_USER, "2", 200),
        (INACTIVE_USER, "2", 403),
    ):
        page = await sign_in_response(client, user, org_id=org, code_org=org)
        assert page.status_code == expected, (user, org, page.text)


async def test_one_installation_never_sees_another(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    a = await install(client, org_id="111")
    b = await install(client, org_id="222")
    await connect_zoho(app, a, org_id="111")
    await connect_gocardless(app, b, organisation_id="OR_B")
    seen_by_a = (await client.get("/api/v1/installation", headers=a.headers())).json()
    seen_by_b = (await client.get("/api/v1/installation", headers=b.headers())).json()
    assert seen_by_a["installation_id"] == str(a.installation_id)
    assert seen_by_a["gocardless"]["organisation_id"] is None
    assert seen_by_b["installation_id"] == str(b.installation_id)
    assert seen_by_b["zoho"]["org_id"] is None
    assert seen_by_b["gocardless"]["organisation_id"] == "OR_B"


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nope"), 404, "not_found")
    response = await client.put("/api/v1/installations", headers=ADMIN_HEADERS)
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM)
