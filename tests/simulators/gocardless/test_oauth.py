"""OAuth Connect: consent, code exchange, single-use codes, revocation."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from .conftest import VERSION, Sim

REDIRECT = "http://localhost:8000/oauth/gocardless/callback"
CLIENT = {"client_id": "partner-app", "client_secret": "s3cret", "redirect_uri": REDIRECT}


async def register(sim: Sim) -> None:
    response = await sim.client.put("/_sim/oauth/client", json=CLIENT)
    assert response.status_code == 200


def authorize_params(**overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "partner-app",
        "redirect_uri": REDIRECT,
        "scope": "read_write",
        "state": "xyz-123",
        **overrides,
    }


def query_of(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def approve(sim: Sim, organisation_id: str, **overrides: str) -> httpx.Response:
    form = {
        **authorize_params(**overrides),
        "decision": "approve",
        "organisation_id": organisation_id,
    }
    return await sim.client.post("/oauth/authorize", data=form)


async def exchange(sim: Sim, code: str, **overrides: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, **CLIENT, **overrides}
    return await sim.client.post("/oauth/access_token", data=form)


async def test_round_trip_gives_a_token_for_the_chosen_organisation(sim: Sim) -> None:
    await register(sim)
    consent = await sim.client.get("/oauth/authorize", params=authorize_params())
    assert consent.status_code == 200
    assert "Approve" in consent.text and sim.org.id in consent.text
    redirected = await approve(sim, sim.org.id)
    assert redirected.status_code == 302
    params = query_of(redirected)
    assert params["state"] == "xyz-123"
    token = await exchange(sim, params["code"])
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "bearer"
    assert body["scope"] == "read_write"
    assert body["organisation_id"] == sim.org.id
    assert body["email"] == sim.org.email
    headers = {"Authorization": f"Bearer {body['access_token']}", **VERSION}
    creditors = await sim.client.get("/creditors", headers=headers)
    assert creditors.json()["creditors"][0]["id"] == sim.org.creditor.id


async def test_codes_are_single_use_and_short_lived(sim: Sim) -> None:
    await register(sim)
    code = query_of(await approve(sim, sim.org.id))["code"]
    assert (await exchange(sim, code)).status_code == 200
    reused = await exchange(sim, code)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    late = query_of(await approve(sim, sim.org.id))["code"]
    sim.state.clock.advance(timedelta(minutes=6))
    assert (await exchange(sim, late)).json()["error"] == "invalid_grant"
    other_uri = query_of(await approve(sim, sim.org.id))["code"]
    mismatch = await exchange(sim, other_uri, redirect_uri="http://evil.example/cb")
    assert mismatch.json()["error"] == "invalid_grant"


async def test_client_must_authenticate(sim: Sim) -> None:
    await register(sim)
    code = query_of(await approve(sim, sim.org.id))["code"]
    wrong = await exchange(sim, code, client_secret="guess")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    grant = await exchange(sim, code, grant_type="password")
    assert grant.json()["error"] == "unsupported_grant_type"
    assert (await exchange(sim, code)).status_code == 200


async def test_deny_and_bad_requests(sim: Sim) -> None:
    await register(sim)
    form = {**authorize_params(), "decision": "deny", "organisation_id": sim.org.id}
    denied = query_of(await sim.client.post("/oauth/authorize", data=form))
    assert denied == {"error": "access_denied", "state": "xyz-123"}
    scope = await sim.client.get("/oauth/authorize", params=authorize_params(scope="admin"))
    assert query_of(scope)["error"] == "invalid_scope"
    # A redirect_uri that is not the registered one is never redirected to.
    stray = await sim.client.get(
        "/oauth/authorize", params=authorize_params(redirect_uri=REDIRECT + "/other")
    )
    assert stray.status_code == 400 and "location" not in stray.headers
    unknown = await sim.client.get("/oauth/authorize", params=authorize_params(client_id="nope"))
    assert unknown.status_code == 400


async def test_signing_up_creates_an_organisation(sim: Sim) -> None:
    await register(sim)
    form = {
        **authorize_params(scope="read_only"),
        "decision": "approve",
        "organisation_id": "new",
        "prefill_email": "owner@newshop.example",
    }
    code = query_of(await sim.client.post("/oauth/authorize", data=form))["code"]
    body = (await exchange(sim, code)).json()
    assert body["organisation_id"] != sim.org.id
    assert (body["email"], body["scope"]) == ("owner@newshop.example", "read_only")
    headers = {"Authorization": f"Bearer {body['access_token']}", **VERSION}
    write = await sim.client.post(
        "/customers", json={"customers": {"company_name": "X"}}, headers=headers
    )
    assert write.status_code == 403


async def test_revoked_tokens_stop_working(sim: Sim) -> None:
    await register(sim)
    code = query_of(await approve(sim, sim.org.id))["code"]
    token = (await exchange(sim, code)).json()["access_token"]
    revoked = await sim.client.post(
        "/oauth/revoke",
        data={"client_id": "partner-app", "client_secret": "s3cret", "token": token},
    )
    assert revoked.status_code == 200
    headers = {"Authorization": f"Bearer {token}", **VERSION}
    response = await sim.client.get("/customers", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["errors"][0]["reason"] == "access_token_not_active"


async def test_dashboard_disconnect_revokes_app_tokens_only(sim: Sim) -> None:
    await register(sim)
    code = query_of(await approve(sim, sim.org.id))["code"]
    app_token = (await exchange(sim, code)).json()["access_token"]
    result = await sim.client.post(f"/_sim/organisations/{sim.org.id}/disconnect")
    assert result.json() == {"revoked_tokens": 1}
    app_headers = {"Authorization": f"Bearer {app_token}", **VERSION}
    assert (await sim.client.get("/customers", headers=app_headers)).status_code == 401
    assert (await sim.client.get("/customers")).status_code == 200
