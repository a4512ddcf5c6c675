"""Zoho Accounts OAuth 2.0: authorize URL, code exchange, refresh, revoke.

Zoho serves one accounts host per data centre and reports errors with HTTP 200, so
success is decided by the presence of `access_token`, never by the status code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from pydantic import SecretStr

from app.adapters.http import DEFAULT_LIMITS, DEFAULT_TIMEOUT, USER_AGENT
from app.adapters.oauth2 import AsyncOAuth2Client
from app.adapters.zoho.errors import (
    ZohoAccountsError,
    ZohoGrantRevoked,
    ZohoRateLimited,
    ZohoTransientError,
)

KNOWN_ACCOUNTS_HOSTS: frozenset[str] = frozenset(
    {
        "accounts.zoho.com",
        "accounts.zoho.eu",
        "accounts.zoho.in",
        "accounts.zoho.com.au",
        "accounts.zoho.jp",
        "accounts.zohocloud.ca",
        "accounts.zoho.sa",
        "accounts.zoho.uk",
        "accounts.zoho.com.cn",
    }
)

DEFAULT_SCOPES: tuple[str, ...] = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.modules.READ",
    "ZohoCRM.settings.fields.READ",
    "ZohoCRM.settings.emails.READ",
    "ZohoCRM.users.READ",
    "ZohoCRM.org.READ",
    "ZohoCRM.send_mail.all.CREATE",
    "ZohoCRM.coql.READ",
    "ZohoCRM.notifications.ALL",
)

# Accounts' throttle answer when more than 10 access tokens are minted in 10 minutes.
_THROTTLED = "Access Denied"


def is_trusted_accounts_server(url: str, default_accounts_url: str) -> bool:
    """May the client secret be sent to `url`? The callback's `accounts-server` is user input."""
    if not url.isascii() or not url.isprintable() or " " in url:
        # urlsplit silently drops tabs and newlines, so check the raw text first.
        return False
    if url.rstrip("/") == default_accounts_url.rstrip("/"):
        return True
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    # Comparing the raw netloc with the parsed host rejects userinfo, ports and odd characters.
    return (
        parts.scheme == "https"
        and parts.netloc in KNOWN_ACCOUNTS_HOSTS
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
    )


@dataclass(frozen=True)
class ZohoTokens:
    access_token: SecretStr
    # Only from a code exchange: refresh tokens never rotate.
    refresh_token: SecretStr | None
    # The CRM API host of the org's data centre; "" if a refresh answer omits it.
    api_domain: str
    expires_in: int


def _raise_unless_token(response: httpx.Response) -> httpx.Response:
    """Authlib compliance hook: turn every Accounts failure into our error tree."""
    if response.status_code >= 500:
        raise ZohoTransientError(
            "ACCOUNTS_UNAVAILABLE",
            f"Zoho Accounts answered HTTP {response.status_code}",
            status_code=response.status_code,
        )
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("access_token"):
        return response
    if not isinstance(body, dict):
        raise ZohoAccountsError(
            "invalid_response",
            f"Zoho Accounts answered HTTP {response.status_code} without a JSON object",
            status_code=response.status_code,
        )
    error = str(body.get("error") or "no_access_token")
    description = str(body.get("error_description") or "")
    if error == _THROTTLED or response.status_code == 429:
        raise ZohoRateLimited(error, description, status_code=response.status_code)
    raise ZohoAccountsError(error, description, status_code=response.status_code)


def _tokens(token: dict[str, Any], *, keep_refresh_token: bool) -> ZohoTokens:
    refresh = token.get("refresh_token") if keep_refresh_token else None
    return ZohoTokens(
        access_token=SecretStr(str(token["access_token"])),
        refresh_token=SecretStr(str(refresh)) if refresh else None,
        api_domain=str(token.get("api_domain") or "").rstrip("/"),
        expires_in=int(token.get("expires_in") or 3600),
    )


class ZohoAccounts:
    """Stateless over data centres: every call names the accounts server it talks to."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        redirect_uri: str,
        scopes: Sequence[str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._scopes = tuple(scopes)
        self._transport = transport

    def authorize_url(
        self,
        accounts_server: str,
        state: str,
        *,
        scopes: Sequence[str] | None = None,
        offline: bool = True,
    ) -> str:
        """The consent URL: by default the installation's (every scope, a refresh token);
        `offline=False` with narrow scopes is a user's sign-in (one access token, no consent
        forced, so a user who already agreed passes straight through)."""
        extra = {"access_type": "offline", "prompt": "consent"} if offline else {}
        # Zoho separates scopes with commas, not the RFC's spaces, so pass them pre-joined.
        url: str = prepare_grant_uri(
            f"{accounts_server.rstrip('/')}/oauth/v2/auth",
            client_id=self._client_id,
            response_type="code",
            redirect_uri=self._redirect_uri,
            scope=",".join(scopes or self._scopes),
            state=state,
            # Without prompt=consent Zoho issues a refresh token only on the user's first grant.
            **(extra or {"access_type": "online"}),
        )
        return url

    async def exchange_code(self, accounts_server: str, code: str) -> ZohoTokens:
        async with self._client() as client:
            token = await self._call(
                client.fetch_token(
                    self._token_url(accounts_server),
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=self._redirect_uri,
                )
            )
        tokens = _tokens(token, keep_refresh_token=True)
        if not tokens.api_domain:
            # Every CRM call of the installation goes there; "" would only fail later, obscurely.
            raise ZohoAccountsError("invalid_response", "the token answer names no api_domain")
        return tokens

    async def refresh(self, accounts_server: str, refresh_token: str) -> ZohoTokens:
        """A fresh access token; Zoho never rotates refresh tokens, so none is returned."""
        async with self._client() as client:
            try:
                token = await self._call(
                    client.refresh_token(
                        self._token_url(accounts_server), refresh_token=refresh_token
                    )
                )
            except ZohoAccountsError as exc:
                if exc.code != "invalid_code":
                    raise
                raise ZohoGrantRevoked(
                    exc.code,
                    exc.message or "refresh token revoked or evicted; re-authorize Zoho CRM",
                    status_code=exc.status_code,
                ) from None
        return _tokens(token, keep_refresh_token=False)

    async def revoke(self, accounts_server: str, refresh_token: str) -> None:
        """Revoke the grant (and every access token made from it).

        Raises ZohoAccountsError when Zoho refuses, e.g. HTTP 400 for a token that is
        already invalid; whether that counts as done is the caller's call.
        """
        url = f"{accounts_server.rstrip('/')}/oauth/v2/token/revoke"
        async with self._client() as client:
            try:
                response = await client.request(
                    "POST", url, params={"token": refresh_token}, withhold_token=True
                )
            except httpx.TransportError as exc:
                raise ZohoTransientError("NETWORK_ERROR", type(exc).__name__) from None
        if response.status_code >= 500:
            raise ZohoTransientError(
                "ACCOUNTS_UNAVAILABLE",
                f"Zoho Accounts answered HTTP {response.status_code}",
                status_code=response.status_code,
            )
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict) and body.get("status") == "success":
            return
        error = body.get("error") if isinstance(body, dict) else None
        raise ZohoAccountsError(
            str(error or "revoke_failed"),
            f"Zoho Accounts refused the revocation (HTTP {response.status_code})",
            status_code=response.status_code,
        )

    def _client(self) -> AsyncOAuth2Client:
        # One short-lived client per call: Authlib's client holds token state, and
        # calls for different orgs and data centres must not share it.
        client = AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret.get_secret_value(),
            token_endpoint_auth_method="client_secret_post",
            headers={"User-Agent": USER_AGENT},
            timeout=DEFAULT_TIMEOUT,
            limits=DEFAULT_LIMITS,
            follow_redirects=False,
            transport=self._transport,
        )
        client.register_compliance_hook("access_token_response", _raise_unless_token)
        client.register_compliance_hook("refresh_token_response", _raise_unless_token)
        return client

    @staticmethod
    def _token_url(accounts_server: str) -> str:
        return f"{accounts_server.rstrip('/')}/oauth/v2/token"

    @staticmethod
    async def _call(pending: Awaitable[Any]) -> dict[str, Any]:
        try:
            token: dict[str, Any] = await pending
        except httpx.TransportError as exc:
            raise ZohoTransientError("NETWORK_ERROR", type(exc).__name__) from None
        return token
