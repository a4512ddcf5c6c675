"""Zoho Accounts behaviour: consent, code exchange, refresh limits, revocation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from app.simulators.zoho.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
)
from tests.simulators.zoho.conftest import BASE_URL, Sim

AUTH_PARAMS = {
    "response_type": "code",
    "client_id": DEFAULT_CLIENT_ID,
    "scope": "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ",
    "redirect_uri": DEFAULT_REDIRECT_URI,
    "access_type": "offline",
    "prompt": "consent",
    "state": "opaque-state-123",
}


async def _approve(sim: Sim, **overrides: str) -> dict[str, list[str]]:
    params = {**AUTH_PARAMS, **overrides}
    page = await sim.http.get("/oauth/v2/auth", params=params)
    assert page.status_code == 200
    assert "Accept" in page.text
    org = sim.seeded.org
    form = {**params, "decision": "approve", "account": f"{org.id}:{org.admin_user_id}"}
    answer = await sim.http.post("/oauth/v2/auth", data=form)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(DEFAULT_REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)


async def _token(sim: Sim, **form: str) -> httpx.Response:
    body = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **form}
    return await sim.http.post("/oauth/v2/token", data=body)


async def test_full_round_trip(sim: Sim) -> None:
    query = await _approve(sim)
    assert query["state"] == ["opaque-state-123"]
    assert query["location"] == [sim.seeded.org.location]
    assert query["accounts-server"] == [BASE_URL]

    exchanged = await _token(
        sim,
        grant_type="authorization_code",
        code=query["code"][0],
        redirect_uri=DEFAULT_REDIRECT_URI,
    )
    body = exchanged.json()
    assert exchanged.status_code == 200
    assert set(body) == {"access_token", "refresh_token", "api_domain", "token_type", "expires_in"}
    assert body["api_domain"] == BASE_URL
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600

    refreshed = (
        await _token(sim, grant_type="refresh_token", refresh_token=body["refresh_token"])
    ).json()
    assert "refresh_token" not in refreshed
    assert refreshed["access_token"] != body["access_token"]

    revoked = await sim.http.post("/oauth/v2/token/revoke", params={"token": body["refresh_token"]})
    assert revoked.json() == {"status": "success"}
    again = await _token(sim, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert (again.status_code, again.json()) == (200, {"error": "invalid_code"})
    denied = await sim.crm("GET", "/org", token=refreshed["access_token"])
    assert denied.status_code == 401
    assert denied.json()["code"] == "INVALID_TOKEN"
    assert sim.state.counters["accounts.token.refresh_token"] == 2


async def test_denial_redirects_with_access_denied(sim: Sim) -> None:
    form = {**AUTH_PARAMS, "decision": "deny"}
    answer = await sim.http.post("/oauth/v2/auth", data=form)
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query == {"error": ["access_denied"], "state": ["opaque-state-123"]}


async def test_wrong_redirect_uri_is_refused_on_the_auth_page(sim: Sim) -> None:
    page = await sim.http.get(
        "/oauth/v2/auth", params={**AUTH_PARAMS, "redirect_uri": "https://evil.example/cb"}
    )
    assert page.status_code == 400
    assert "Invalid Redirect Uri" in page.text


async def test_code_is_single_use_and_short_lived(sim: Sim) -> None:
    code = (await _approve(sim))["code"][0]
    first = await _token(
        sim, grant_type="authorization_code", code=code, redirect_uri=DEFAULT_REDIRECT_URI
    )
    assert "access_token" in first.json()
    reused = await _token(
        sim, grant_type="authorization_code", code=code, redirect_uri=DEFAULT_REDIRECT_URI
    )
    assert (reused.status_code, reused.json()) == (200, {"error": "invalid_code"})

    late = (await _approve(sim))["code"][0]
    sim.clock.advance(121)
    expired = await _token(
        sim, grant_type="authorization_code", code=late, redirect_uri=DEFAULT_REDIRECT_URI
    )
    assert expired.json() == {"error": "invalid_code"}


async def test_bad_client_and_redirect_mismatch(sim: Sim) -> None:
    code = (await _approve(sim))["code"][0]
    wrong_secret = await sim.http.post(
        "/oauth/v2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": "nope",
            "code": code,
            "redirect_uri": DEFAULT_REDIRECT_URI,
        },
    )
    assert (wrong_secret.status_code, wrong_secret.json()) == (200, {"error": "invalid_client"})
    mismatch = await _token(
        sim, grant_type="authorization_code", code=code, redirect_uri="http://other/cb"
    )
    assert mismatch.json() == {"error": "invalid_redirect_uri"}


async def test_offline_without_prompt_consent_gets_refresh_token_only_once(sim: Sim) -> None:
    tokens = []
    for _ in range(2):
        code = (await _approve(sim, prompt=""))["code"][0]
        tokens.append(
            (
                await _token(
                    sim,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=DEFAULT_REDIRECT_URI,
                )
            ).json()
        )
    # The fixture already minted one refresh token for the admin: no new one either time.
    assert all("refresh_token" not in t for t in tokens)
    code = (await _approve(sim))["code"][0]
    forced = (
        await _token(
            sim, grant_type="authorization_code", code=code, redirect_uri=DEFAULT_REDIRECT_URI
        )
    ).json()
    assert "refresh_token" in forced


async def test_online_access_gets_no_refresh_token(sim: Sim) -> None:
    code = (await _approve(sim, access_type="online"))["code"][0]
    body = (
        await _token(
            sim, grant_type="authorization_code", code=code, redirect_uri=DEFAULT_REDIRECT_URI
        )
    ).json()
    assert "access_token" in body and "refresh_token" not in body


async def test_refresh_limit_per_ten_minutes(sim: Sim) -> None:
    refresh = sim.mint()["refresh_token"]
    for _ in range(10):
        ok = await _token(sim, grant_type="refresh_token", refresh_token=refresh)
        assert "access_token" in ok.json()
    throttled = await _token(sim, grant_type="refresh_token", refresh_token=refresh)
    assert throttled.json() == {
        "error": "Access Denied",
        "error_description": (
            "You have made too many requests continuously. Please try again after some time."
        ),
        "status": "failure",
    }
    sim.clock.advance(601)
    assert (
        "access_token"
        in (await _token(sim, grant_type="refresh_token", refresh_token=refresh)).json()
    )


async def test_live_access_tokens_per_refresh_token_are_capped(sim: Sim) -> None:
    minted = sim.mint()
    refresh, first = minted["refresh_token"], minted["access_token"]
    for _ in range(9):
        await _token(sim, grant_type="refresh_token", refresh_token=refresh)
    assert (await sim.crm("GET", "/org", token=first)).status_code == 200
    await _token(sim, grant_type="refresh_token", refresh_token=refresh)
    evicted = await sim.crm("GET", "/org", token=first)
    assert evicted.json()["code"] == "INVALID_TOKEN"


async def test_access_token_expires(sim: Sim) -> None:
    assert (await sim.crm("GET", "/org")).status_code == 200
    sim.clock.advance(3600)
    expired = await sim.crm("GET", "/org")
    assert expired.status_code == 401
    assert expired.json() == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }


async def test_revoking_an_unknown_token_is_a_400(sim: Sim) -> None:
    answer = await sim.http.post("/oauth/v2/token/revoke", params={"token": "1000.nope.nope"})
    assert answer.status_code == 400
