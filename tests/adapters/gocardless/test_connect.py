from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.adapters.gocardless import GoCardlessConnect, GoCardlessOAuthError
from app.adapters.http import USER_AGENT

CONNECT = "https://connect-sandbox.gocardless.com"
TOKEN_URL = f"{CONNECT}/oauth/access_token"
REVOKE_URL = f"{CONNECT}/oauth/revoke"


@pytest.fixture
def connect() -> GoCardlessConnect:
    return GoCardlessConnect(
        connect_url=CONNECT + "/",
        client_id="app-client",
        client_secret=SecretStr("app-secret"),
        redirect_uri="https://us.example/oauth/gocardless/callback",
    )


def _form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


def test_authorize_url_carries_the_required_parameters(connect: GoCardlessConnect) -> None:
    url = urlsplit(connect.authorize_url("signed-state", prefill_email="a@b.example"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{CONNECT}/oauth/authorize"
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": ["app-client"],
        "redirect_uri": ["https://us.example/oauth/gocardless/callback"],
        "scope": ["read_write"],
        "state": ["signed-state"],
        "prefill[email]": ["a@b.example"],
    }


def test_authorize_url_without_prefill(connect: GoCardlessConnect) -> None:
    assert "prefill" not in connect.authorize_url("s")


@respx.mock
async def test_exchange_code_posts_the_form_and_returns_the_token(
    connect: GoCardlessConnect,
) -> None:
    route = respx.post(TOKEN_URL).respond(
        200,
        json={
            "access_token": "live_token",
            "scope": "read_write",
            "token_type": "bearer",
            "organisation_id": "OR123",
            "email": "admin@merchant.example",
        },
    )
    token = await connect.exchange_code("the-code")
    assert token.access_token.get_secret_value() == "live_token"
    assert (token.organisation_id, token.scope, token.email) == (
        "OR123",
        "read_write",
        "admin@merchant.example",
    )
    request = route.calls.last.request
    assert request.headers["User-Agent"] == USER_AGENT
    assert "authorization" not in request.headers
    assert _form(request) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["https://us.example/oauth/gocardless/callback"],
        "client_id": ["app-client"],
        "client_secret": ["app-secret"],
    }
    assert "live_token" not in repr(token)


@respx.mock
async def test_reused_code_is_invalid_grant(connect: GoCardlessConnect) -> None:
    respx.post(TOKEN_URL).respond(
        400, json={"error": "invalid_grant", "error_description": "code already used"}
    )
    with pytest.raises(GoCardlessOAuthError) as caught:
        await connect.exchange_code("used")
    assert caught.value.reasons == ["invalid_grant"]
    assert caught.value.status_code == 400
    assert caught.value.message == "code already used"
    assert not caught.value.transient


@respx.mock
async def test_error_in_a_200_body_is_refused(connect: GoCardlessConnect) -> None:
    respx.post(TOKEN_URL).respond(200, json={"error": "invalid_client"})
    with pytest.raises(GoCardlessOAuthError) as caught:
        await connect.exchange_code("c")
    assert caught.value.reasons == ["invalid_client"]


@respx.mock
async def test_api_style_error_envelope(connect: GoCardlessConnect) -> None:
    respx.post(TOKEN_URL).respond(
        401,
        json={
            "error": {
                "type": "invalid_api_usage",
                "message": "Unauthorized",
                "request_id": "req-1",
                "errors": [{"reason": "unauthorized", "message": "Unauthorized"}],
            }
        },
    )
    with pytest.raises(GoCardlessOAuthError) as caught:
        await connect.exchange_code("c")
    assert caught.value.reasons == ["unauthorized"]
    assert caught.value.request_id == "req-1"


@respx.mock
async def test_missing_organisation_id_is_refused(connect: GoCardlessConnect) -> None:
    respx.post(TOKEN_URL).respond(200, json={"access_token": "t", "scope": "read_write"})
    with pytest.raises(GoCardlessOAuthError, match="organisation_id"):
        await connect.exchange_code("c")


@respx.mock
async def test_html_error_page_is_transient_with_a_preview(connect: GoCardlessConnect) -> None:
    respx.post(TOKEN_URL).respond(
        502, text="<html>" + "x" * 2000, headers={"x-request-id": "edge-9"}
    )
    with pytest.raises(GoCardlessOAuthError) as caught:
        await connect.exchange_code("c")
    assert caught.value.transient
    assert caught.value.request_id == "edge-9"
    assert caught.value.body_preview is not None
    assert len(caught.value.body_preview) == 500


@respx.mock
async def test_non_json_success_is_refused(connect: GoCardlessConnect) -> None:
    respx.post(TOKEN_URL).respond(200, text="ok")
    with pytest.raises(GoCardlessOAuthError, match="JSON"):
        await connect.exchange_code("c")


@respx.mock
async def test_network_failure_is_transient(connect: GoCardlessConnect) -> None:
    respx.post(TOKEN_URL).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(GoCardlessOAuthError) as caught:
        await connect.exchange_code("c")
    assert caught.value.transient


@respx.mock
async def test_revoke_posts_client_credentials_and_token(connect: GoCardlessConnect) -> None:
    route = respx.post(REVOKE_URL).respond(200, json={})
    await connect.revoke("live_token")
    assert _form(route.calls.last.request) == {
        "token": ["live_token"],
        "client_id": ["app-client"],
        "client_secret": ["app-secret"],
    }


@respx.mock
async def test_revoke_failure_raises(connect: GoCardlessConnect) -> None:
    respx.post(REVOKE_URL).respond(400, json={"error": "invalid_request"})
    with pytest.raises(GoCardlessOAuthError) as caught:
        await connect.revoke("t")
    assert caught.value.reasons == ["invalid_request"]


@respx.mock
async def test_revoke_network_failure_raises(connect: GoCardlessConnect) -> None:
    respx.post(REVOKE_URL).mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(GoCardlessOAuthError):
        await connect.revoke("t")


async def test_injected_transport_is_used() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "t", "organisation_id": "OR1"})

    connect = GoCardlessConnect(
        connect_url=CONNECT,
        client_id="c",
        client_secret=SecretStr("s"),
        redirect_uri="https://us.example/cb",
        transport=httpx.MockTransport(handler),
    )
    token = await connect.exchange_code("code")
    assert token.organisation_id == "OR1"
    assert token.scope == ""
    assert token.email is None
    assert str(seen[0].url) == TOKEN_URL
