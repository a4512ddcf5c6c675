from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.adapters.zoho.accounts import (
    DEFAULT_SCOPES,
    ZohoAccounts,
    is_trusted_accounts_server,
)
from app.adapters.zoho.errors import (
    ZohoAccountsError,
    ZohoGrantRevoked,
    ZohoRateLimited,
    ZohoTransientError,
)

EU = "https://accounts.zoho.eu"


@pytest.fixture
def accounts() -> ZohoAccounts:
    return ZohoAccounts(
        client_id="1000.CLIENT",
        client_secret=SecretStr("s3cret"),
        redirect_uri="https://app.example/oauth/zoho/callback",
        scopes=DEFAULT_SCOPES,
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://accounts.zoho.eu",
        "https://accounts.zoho.com/",
        "https://accounts.zohocloud.ca",
        "https://accounts.zoho.com.cn",
        "http://127.0.0.1:9000",
    ],
)
def test_trusted_accounts_servers(url: str) -> None:
    assert is_trusted_accounts_server(url, "http://127.0.0.1:9000")


@pytest.mark.parametrize(
    "url",
    [
        "http://accounts.zoho.eu",
        "https://accounts.zoho.eu.evil.com",
        "https://evil.com@accounts.zoho.eu",
        "https://accounts.zoho.eu@evil.com",
        "https://accounts.zoho.eu:8443",
        "https://accounts.zoho.eu/oauth",
        "https://accounts.zoho.eu?x=1",
        "https://accounts.zoho.eu\\@evil.com",
        "https://accounts.zoho.ca",
        "http://127.0.0.1:9001",
        "",
    ],
)
def test_untrusted_accounts_servers(url: str) -> None:
    assert not is_trusted_accounts_server(url, "http://127.0.0.1:9000")


def test_authorize_url(accounts: ZohoAccounts) -> None:
    url = accounts.authorize_url(EU + "/", "st4te")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{EU}/oauth/v2/auth"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "response_type": "code",
        "client_id": "1000.CLIENT",
        "scope": ",".join(DEFAULT_SCOPES),
        "redirect_uri": "https://app.example/oauth/zoho/callback",
        "access_type": "offline",
        "prompt": "consent",
        "state": "st4te",
    }


@respx.mock
async def test_exchange_code_posts_form_and_returns_tokens(accounts: ZohoAccounts) -> None:
    route = respx.post(f"{EU}/oauth/v2/token").respond(
        200,
        json={
            "access_token": "1000.acc",
            "refresh_token": "1000.ref",
            "api_domain": "https://www.zohoapis.eu",
            "token_type": "Bearer",
            "expires_in": 3600,
        },
    )
    tokens = await accounts.exchange_code(EU, "1000.code")
    form = parse_qs(route.calls.last.request.content.decode())
    assert {k: v[0] for k, v in form.items()} == {
        "grant_type": "authorization_code",
        "code": "1000.code",
        "redirect_uri": "https://app.example/oauth/zoho/callback",
        "client_id": "1000.CLIENT",
        "client_secret": "s3cret",
    }
    assert tokens.access_token.get_secret_value() == "1000.acc"
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value() == "1000.ref"
    assert tokens.api_domain == "https://www.zohoapis.eu"
    assert tokens.expires_in == 3600


@respx.mock
async def test_exchange_code_error_with_http_200(accounts: ZohoAccounts) -> None:
    respx.post(f"{EU}/oauth/v2/token").respond(200, json={"error": "invalid_code"})
    with pytest.raises(ZohoAccountsError) as caught:
        await accounts.exchange_code(EU, "reused")
    assert type(caught.value) is ZohoAccountsError
    assert caught.value.code == "invalid_code"


@respx.mock
async def test_exchange_code_needs_the_api_domain(accounts: ZohoAccounts) -> None:
    respx.post(f"{EU}/oauth/v2/token").respond(
        200, json={"access_token": "1000.acc", "refresh_token": "1000.ref", "expires_in": 3600}
    )
    with pytest.raises(ZohoAccountsError, match="api_domain"):
        await accounts.exchange_code(EU, "1000.code")


@respx.mock
async def test_exchange_code_non_json(accounts: ZohoAccounts) -> None:
    respx.post(f"{EU}/oauth/v2/token").respond(400, text="<html>nope</html>")
    with pytest.raises(ZohoAccountsError) as caught:
        await accounts.exchange_code(EU, "x")
    assert caught.value.code == "invalid_response"
    assert caught.value.status_code == 400


@respx.mock
async def test_refresh_never_returns_a_refresh_token(accounts: ZohoAccounts) -> None:
    route = respx.post(f"{EU}/oauth/v2/token").respond(
        200,
        json={
            "access_token": "1000.new",
            "api_domain": "https://www.zohoapis.eu",
            "token_type": "Bearer",
            "expires_in": 3600,
        },
    )
    tokens = await accounts.refresh(EU, "1000.ref")
    form = {k: v[0] for k, v in parse_qs(route.calls.last.request.content.decode()).items()}
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "1000.ref",
        "client_id": "1000.CLIENT",
        "client_secret": "s3cret",
    }
    assert tokens.access_token.get_secret_value() == "1000.new"
    assert tokens.refresh_token is None


@respx.mock
async def test_refresh_invalid_code_means_grant_revoked(accounts: ZohoAccounts) -> None:
    respx.post(f"{EU}/oauth/v2/token").respond(200, json={"error": "invalid_code"})
    with pytest.raises(ZohoGrantRevoked) as caught:
        await accounts.refresh(EU, "1000.gone")
    assert caught.value.code == "invalid_code"


@respx.mock
async def test_refresh_invalid_client_is_an_accounts_error(accounts: ZohoAccounts) -> None:
    respx.post(f"{EU}/oauth/v2/token").respond(200, json={"error": "invalid_client"})
    with pytest.raises(ZohoAccountsError) as caught:
        await accounts.refresh(EU, "1000.ref")
    assert not isinstance(caught.value, ZohoGrantRevoked)
    assert caught.value.code == "invalid_client"


@respx.mock
async def test_refresh_throttled(accounts: ZohoAccounts) -> None:
    respx.post(f"{EU}/oauth/v2/token").respond(
        200,
        json={
            "error": "Access Denied",
            "error_description": "You have made too many requests continuously.",
            "status": "failure",
        },
    )
    with pytest.raises(ZohoRateLimited) as caught:
        await accounts.refresh(EU, "1000.ref")
    assert caught.value.transient


@respx.mock
async def test_refresh_5xx_and_network_errors_are_transient(accounts: ZohoAccounts) -> None:
    route = respx.post(f"{EU}/oauth/v2/token")
    route.respond(503, text="down")
    with pytest.raises(ZohoTransientError) as caught:
        await accounts.refresh(EU, "1000.ref")
    assert caught.value.status_code == 503
    route.side_effect = httpx.ConnectError("refused")
    with pytest.raises(ZohoTransientError):
        await accounts.refresh(EU, "1000.ref")


@respx.mock
async def test_revoke(accounts: ZohoAccounts) -> None:
    route = respx.post(f"{EU}/oauth/v2/token/revoke").respond(200, json={"status": "success"})
    await accounts.revoke(EU, "1000.ref")
    request = route.calls.last.request
    assert request.url.params["token"] == "1000.ref"
    assert "authorization" not in request.headers


@respx.mock
async def test_revoke_refused(accounts: ZohoAccounts) -> None:
    respx.post(f"{EU}/oauth/v2/token/revoke").respond(400, json={"error": "invalid_token"})
    with pytest.raises(ZohoAccountsError) as caught:
        await accounts.revoke(EU, "1000.bad")
    assert caught.value.code == "invalid_token"
    assert caught.value.status_code == 400


def test_secret_not_in_repr(accounts: ZohoAccounts) -> None:
    assert "s3cret" not in json.dumps(vars(accounts), default=repr)
