"""GoCardless Connect: the partner-app OAuth flow that yields a merchant's access token.

Connect tokens never expire and have no refresh token, so this module only authorizes,
exchanges the code once, and revokes on uninstall. Every failure is a `GoCardlessOAuthError`
whose `reasons` carry the OAuth error (`invalid_grant` for a reused or expired code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from pydantic import SecretStr

from app.adapters.gocardless.errors import GoCardlessOAuthError, preview
from app.adapters.http import DEFAULT_TIMEOUT, USER_AGENT
from app.adapters.oauth2 import AsyncOAuth2Client

SCOPE = "read_write"


@dataclass(frozen=True)
class ConnectToken:
    access_token: SecretStr
    organisation_id: str
    scope: str
    email: str | None


class GoCardlessConnect:
    def __init__(
        self,
        *,
        connect_url: str,
        client_id: str,
        client_secret: SecretStr,
        redirect_uri: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = connect_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._transport = transport

    def authorize_url(self, state: str, *, prefill_email: str | None = None) -> str:
        extra = {"prefill[email]": prefill_email} if prefill_email else {}
        url: str = prepare_grant_uri(
            f"{self._base}/oauth/authorize",
            client_id=self._client_id,
            response_type="code",
            redirect_uri=self._redirect_uri,
            scope=SCOPE,
            state=state,
            **extra,
        )
        return url

    async def exchange_code(self, code: str) -> ConnectToken:
        async with self._oauth_client() as oauth:
            try:
                token: dict[str, Any] = await oauth.fetch_token(
                    f"{self._base}/oauth/access_token",
                    grant_type="authorization_code",
                    code=code,
                )
            except OAuthError as exc:
                raise GoCardlessOAuthError(
                    str(exc.description or exc.error),
                    error_type="oauth",
                    reasons=[str(exc.error)],
                ) from None
            except httpx.TransportError as exc:
                raise _transport_failure(exc) from None
            except ValueError:
                raise GoCardlessOAuthError(
                    "token endpoint answered without a JSON object", error_type="oauth"
                ) from None
        access_token = token.get("access_token")
        organisation_id = token.get("organisation_id")
        if not access_token or not organisation_id:
            raise GoCardlessOAuthError(
                "token response lacks access_token or organisation_id", error_type="oauth"
            )
        return ConnectToken(
            access_token=SecretStr(str(access_token)),
            organisation_id=str(organisation_id),
            scope=str(token.get("scope") or ""),
            email=token.get("email"),
        )

    async def revoke(self, access_token: str) -> None:
        async with self._oauth_client() as oauth:
            try:
                response: httpx.Response = await oauth.revoke_token(
                    f"{self._base}/oauth/revoke", token=access_token
                )
            except httpx.TransportError as exc:
                raise _transport_failure(exc) from None
        if response.status_code >= 400:
            raise _oauth_error(response)

    def _oauth_client(self) -> AsyncOAuth2Client:
        client = AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret.get_secret_value(),
            # GoCardless reads the client credentials from the form, not HTTP Basic.
            token_endpoint_auth_method="client_secret_post",
            revocation_endpoint_auth_method="client_secret_post",
            redirect_uri=self._redirect_uri,
            headers={"User-Agent": USER_AGENT},
            timeout=DEFAULT_TIMEOUT,
            transport=self._transport,
        )
        client.register_compliance_hook("access_token_response", _raise_for_error_status)
        return client


def _raise_for_error_status(response: httpx.Response) -> httpx.Response:
    # Authlib would accept a 4xx JSON body without an `error` key as a token; refuse it here.
    if response.status_code >= 400:
        raise _oauth_error(response)
    return response


def _oauth_error(response: httpx.Response) -> GoCardlessOAuthError:
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        description = body.get("error_description") if isinstance(body, dict) else None
        return GoCardlessOAuthError(
            str(description or error),
            status_code=status,
            error_type="oauth",
            code=status,
            reasons=[error],
            request_id=request_id,
            transient=_retryable(status),
        )
    if isinstance(error, dict):
        # Connect may also answer in the API's own `{"error": {...}}` envelope.
        raw = error.get("errors")
        errors = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
        return GoCardlessOAuthError(
            str(error.get("message") or f"OAuth call failed with HTTP {status}"),
            status_code=status,
            error_type=str(error.get("type") or "oauth"),
            code=status,
            reasons=[str(e["reason"]) for e in errors if e.get("reason")],
            errors=errors,
            request_id=error.get("request_id") or request_id,
            transient=_retryable(status),
        )
    return GoCardlessOAuthError(
        f"OAuth call failed with HTTP {status}",
        status_code=status,
        error_type="oauth",
        code=status,
        request_id=request_id,
        body_preview=preview(response.text),
        transient=_retryable(status),
    )


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


def _transport_failure(exc: httpx.TransportError) -> GoCardlessOAuthError:
    return GoCardlessOAuthError(
        f"could not reach GoCardless Connect: {type(exc).__name__}",
        error_type="transport",
        transient=True,
    )
