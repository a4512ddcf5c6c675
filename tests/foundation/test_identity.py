"""Widget sign-in and sessions: who the caller is comes from Zoho, never from the browser;
what they may do comes from the install audience and the CRM Administrator profile."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from fastapi import FastAPI
from pydantic import SecretStr

from app.crypto import Signer
from app.services.identity.sessions import SESSION_PURPOSE
from tests.conftest import ZOHO_ACCOUNTS
from tests.foundation.conftest import (
    ADMIN_PROFILE_ID,
    ADMIN_USER,
    ORG_ID,
    STANDARD_PROFILE_ID,
    STANDARD_USER,
    connect_gocardless,
    connect_zoho,
    crm_now_says,
    install,
    session_of,
    sign_in,
    sign_in_response,
    zoho_user,
)
from tests.foundation.test_installations import assert_problem

STATUS = "/api/v1/installation"


def freeze_clock(app: FastAPI) -> None:
    """Stop the runtime's clock, so a slow machine adds nothing between two steps."""
    runtime = app.state.runtime
    now = runtime.clock()
    runtime.clock = lambda: now


def move_clock(app: FastAPI, by: timedelta) -> None:
    runtime = app.state.runtime
    now = runtime.clock()
    runtime.clock = lambda: now + by


async def test_signin_asks_zoho_for_identity_only_and_binds_the_browser(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/oauth/zoho/signin", params={"org": ORG_ID, "origin": "http://testserver"}
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{ZOHO_ACCOUNTS}/oauth/v2/auth"
    )
    query = parse_qs(location.query)
    assert query["scope"] == ["ZohoCRM.users.READ,ZohoCRM.org.READ"]
    assert query["access_type"] == ["online"]
    assert "prompt" not in query
    assert query["redirect_uri"] == ["http://testserver/oauth/zoho/callback"]
    cookie = response.headers["set-cookie"].lower()
    assert "gcz_browser=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    for bad in ({"org": "x;1"}, {"org": ORG_ID, "origin": "javascript:alert(1)"}):
        refused = await client.get("/oauth/zoho/signin", params=bad)
        assert refused.status_code == 400 and "text/html" in refused.headers["content-type"]


async def test_signin_page_carries_the_session_and_posts_it_to_allowed_origins_only(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    installed = await install(client, audience="all_users")
    page = await sign_in_response(client, STANDARD_USER)
    assert page.status_code == 200, page.text
    session = session_of(page)
    assert set(session) == {"token", "expires_at", "user_id", "installation_id"}
    assert session["user_id"] == STANDARD_USER
    assert session["installation_id"] == str(installed.installation_id)
    assert "window.opener.postMessage" in page.text and '"http://testserver"' in page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'nonce-" in csp
    # The user's own Zoho token only proved who they are: it is not kept anywhere.
    assert "user-token" not in page.text
    start = await client.get(
        "/oauth/zoho/signin", params={"org": ORG_ID, "origin": "https://evil.example"}
    )
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    elsewhere = await client.get(
        "/oauth/zoho/callback",
        params={
            "code": f"signin-{STANDARD_USER}",
            "state": state,
            "accounts-server": ZOHO_ACCOUNTS,
        },
    )
    assert elsewhere.status_code == 200
    assert "postMessage" not in elsewhere.text and "evil.example" not in elsewhere.text


async def test_signin_refusals_are_html_pages(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    not_installed = await sign_in_response(client, ADMIN_USER)
    assert not_installed.status_code == 404 and "not installed" in not_installed.text
    await install(client, audience="admins")
    outside = await sign_in_response(client, STANDARD_USER)
    assert outside.status_code == 403 and "not allowed" in outside.text
    other_org = await sign_in_response(client, ADMIN_USER, code_org="999")
    assert other_org.status_code == 400 and "999" in other_org.text
    for page in (not_installed, outside, other_org):
        assert "gocardless-zoho-session" not in page.text
        assert "text/html" in page.headers["content-type"]
    bad_state = await client.get("/oauth/zoho/callback", params={"code": "c", "state": "forged"})
    assert bad_state.status_code == 400


async def test_signin_finished_in_another_browser_fails(
    app: FastAPI, client: httpx.AsyncClient, zoho_mock: respx.MockRouter
) -> None:
    await install(client, audience="all_users")
    start = await client.get("/oauth/zoho/signin", params={"org": ORG_ID})
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        page = await other.get(
            "/oauth/zoho/callback",
            params={"code": f"signin-{ADMIN_USER}", "state": state},
        )
    assert page.status_code == 400 and "another browser" in page.text
    assert "gocardless-zoho-session" not in page.text


async def test_standard_user_session_cannot_manage_the_installation(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    installed = await install(client, audience="all_users")
    await connect_zoho(app, installed)
    await connect_gocardless(app, installed)
    standard = await sign_in(client, STANDARD_USER)
    status = await client.get(STATUS, headers=standard)
    assert status.status_code == 200
    body = status.json()
    assert body["zoho"]["authorize_url"] is None and body["gocardless"]["authorize_url"] is None
    assert (await client.get(f"{STATUS}/sync", headers=standard)).status_code == 200
    for method, path, payload in (
        ("PATCH", STATUS, {"auto_collect_on_mandate": True}),
        ("POST", f"{STATUS}/sync", None),
        ("DELETE", f"{STATUS}/gocardless", None),
        ("DELETE", STATUS, None),
    ):
        response = await client.request(method, path, headers=standard, json=payload)
        assert_problem(response, 403, "admin_required")
    # Nothing changed: the installation is still there, connected, and not synced.
    after = (await client.get(STATUS, headers=installed.headers())).json()
    assert after["gocardless"]["connected"] and after["sync"]["state"] == "not_started"
    assert after["auto_collect_on_mandate"] is False
    admin = await sign_in(client, ADMIN_USER)
    as_admin = (await client.get(STATUS, headers=admin)).json()
    assert as_admin["gocardless"]["authorize_url"].startswith("http://testserver/oauth/")
    patched = await client.patch(STATUS, headers=admin, json={"auto_collect_on_mandate": True})
    assert patched.status_code == 200 and patched.json()["auto_collect_on_mandate"] is True


async def test_authorize_links_in_errors_go_to_admins_only(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    installed = await install(client, audience="all_users")
    await connect_zoho(app, installed)
    path = "/api/v1/invoices/4150868000000700001/mandates"
    standard = await client.get(path, headers=await sign_in(client, STANDARD_USER))
    body = assert_problem(standard, 409, "gocardless_not_authorized")
    assert "authorize_url" not in body
    admin = await client.get(path, headers=await sign_in(client, ADMIN_USER))
    body = assert_problem(admin, 409, "gocardless_not_authorized")
    assert str(body["authorize_url"]).startswith("http://testserver/oauth/gocardless/start")


async def test_a_session_never_works_for_another_org(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    a = await install(client, org_id=ORG_ID, audience="all_users")
    b = await install(client, org_id="222", audience="all_users")
    session_a = await sign_in(client, ADMIN_USER)
    seen = (await client.get(STATUS, headers=session_a)).json()
    assert seen["installation_id"] == str(a.installation_id)
    # A session re-signed for B's installation with another key is refused, and so is an
    # edited one.
    token = session_a["Authorization"].removeprefix("Bearer ")
    forged = Signer(SecretStr("x" * 32)).seal(
        SESSION_PURPOSE,
        {"i": str(b.installation_id), "u": ADMIN_USER, "a": True, "iat": 0},
        expires_at=app.state.runtime.clock() + timedelta(hours=1),
    )
    for bearer in (forged, token[:-2] + ("AA" if not token.endswith("AA") else "BB")):
        response = await client.get(STATUS, headers={"Authorization": f"Bearer {bearer}"})
        assert_problem(response, 401, "unauthenticated")
    # Signing in to org A cannot get a session for org B's installation.
    wrong = await sign_in_response(client, ADMIN_USER, org_id="222")
    assert wrong.status_code == 400 and "gocardless-zoho-session" not in wrong.text


async def test_sessions_expire(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    installed = await install(client, audience="all_users")
    await connect_zoho(app, installed)
    freeze_clock(app)
    headers = await sign_in(client, ADMIN_USER)
    move_clock(app, timedelta(hours=7, minutes=59))
    assert (await client.get(STATUS, headers=headers)).status_code == 200
    move_clock(app, timedelta(minutes=1, seconds=1))
    expired = await client.get(STATUS, headers=headers)
    assert_problem(expired, 401, "unauthenticated")
    assert "expired" in expired.json()["detail"]


async def test_sessions_die_at_uninstall(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    installed = await install(client, audience="all_users")
    admin = await sign_in(client, ADMIN_USER)
    standard = await sign_in(client, STANDARD_USER)
    assert (await client.delete(STATUS, headers=admin)).status_code == 204
    for headers in (admin, standard, installed.headers()):
        assert_problem(await client.get(STATUS, headers=headers), 401, "unauthenticated")
    # A reinstall of the same org is a new installation: old sessions stay dead.
    await install(client, audience="all_users")
    assert_problem(await client.get(STATUS, headers=standard), 401, "unauthenticated")


@pytest.mark.parametrize("audience", ["admins", "profiles"])
async def test_a_user_removed_from_the_audience_loses_access_within_the_window(
    audience: str,
    client: httpx.AsyncClient,
    app: FastAPI,
    zoho_mock: respx.MockRouter,
) -> None:
    profiles = [ADMIN_PROFILE_ID] if audience == "profiles" else []
    installed = await install(client, audience=audience, profile_ids=profiles)
    await connect_zoho(app, installed)
    freeze_clock(app)
    headers = await sign_in(client, ADMIN_USER)
    assert (await client.get(STATUS, headers=headers)).status_code == 200
    crm_now_says(zoho_mock, zoho_user(ADMIN_USER, ("Standard", STANDARD_PROFILE_ID)))
    move_clock(app, timedelta(minutes=4, seconds=59))
    # Inside the window the sign-in's proof stands, without asking the CRM.
    assert (await client.get(STATUS, headers=headers)).status_code == 200
    assert not [c for c in zoho_mock.calls if "/users/" in c.request.url.path]
    move_clock(app, timedelta(minutes=5))
    assert_problem(await client.get(STATUS, headers=headers), 403, "user_not_in_audience")
    user_calls = [c for c in zoho_mock.calls if "/users/" in c.request.url.path]
    assert len(user_calls) == 1
    assert user_calls[0].request.headers["authorization"] == "Zoho-oauthtoken zoho-access-1"


async def test_an_admin_demoted_in_the_crm_loses_admin_rights_within_the_window(
    client: httpx.AsyncClient,
    app: FastAPI,
    zoho_mock: respx.MockRouter,
) -> None:
    installed = await install(client, audience="all_users")
    await connect_zoho(app, installed)
    freeze_clock(app)
    headers = await sign_in(client, ADMIN_USER)
    crm_now_says(zoho_mock, zoho_user(ADMIN_USER, ("Standard", "1")))
    move_clock(app, timedelta(minutes=6))
    refused = await client.patch(STATUS, headers=headers, json={"auto_collect_on_mandate": True})
    assert_problem(refused, 403, "admin_required")
    assert (await client.get(STATUS, headers=headers)).json()["zoho"]["authorize_url"] is None


async def test_a_stale_session_without_zoho_to_recheck_with_must_sign_in_again(
    client: httpx.AsyncClient, app: FastAPI, zoho_mock: respx.MockRouter
) -> None:
    await install(client, audience="admins")
    freeze_clock(app)
    headers = await sign_in(client, ADMIN_USER)
    # Before Zoho is authorized an admin can sign in and read the status (to authorize).
    assert (await client.get(STATUS, headers=headers)).json()["zoho"]["authorize_url"]
    move_clock(app, timedelta(minutes=6))
    stale = await client.get(STATUS, headers=headers)
    assert_problem(stale, 401, "unauthenticated")
    assert "sign in again" in stale.json()["detail"]
