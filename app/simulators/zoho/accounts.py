"""Zoho Accounts: OAuth clients, grant codes, refresh and access tokens, with the limits
that bite real integrations (single-use short-lived codes, non-rotating refresh tokens,
ten refreshes per ten minutes, a cap on live access tokens per refresh token)."""

from __future__ import annotations

import secrets
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.simulators.zoho.options import ZohoSimOptions

THROTTLED = {
    "error": "Access Denied",
    "error_description": (
        "You have made too many requests continuously. Please try again after some time."
    ),
    "status": "failure",
}


def new_token() -> str:
    # Shape of real Zoho tokens: "1000." + two hex blocks.
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uri: str
    # What the consent page calls the application, as the API console's client name.
    name: str = "Zoho API client"


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    org_id: str
    user_id: str
    scopes: tuple[str, ...]
    offline: bool
    forced_consent: bool
    expires_at: float
    used: bool = False


@dataclass
class Grant:
    """One consent: at most one refresh token and the access tokens minted under it."""

    id: int
    client_id: str
    org_id: str
    user_id: str
    scopes: tuple[str, ...]
    refresh_token: str | None
    revoked: bool = False
    access_tokens: deque[str] = field(default_factory=deque)
    refresh_times: deque[float] = field(default_factory=deque)


@dataclass
class AccessToken:
    grant: Grant
    expires_at: float
    revoked: bool = False


class Accounts:
    def __init__(self, options: ZohoSimOptions, counters: Counter[str]) -> None:
        self.options = options
        self.counters = counters
        self.clients: dict[str, OAuthClient] = {}
        self._codes: dict[str, AuthCode] = {}
        self._grants: list[Grant] = []
        self._by_refresh: dict[str, Grant] = {}
        self._access: dict[str, AccessToken] = {}

    def now(self) -> float:
        return self.options.clock()

    def register_client(
        self, client_id: str, client_secret: str, redirect_uri: str, name: str | None = None
    ) -> None:
        client = OAuthClient(client_id, client_secret, redirect_uri)
        if name:
            client.name = name
        self.clients[client_id] = client

    def issue_code(
        self,
        client: OAuthClient,
        *,
        org_id: str,
        user_id: str,
        scopes: tuple[str, ...],
        offline: bool,
        forced_consent: bool,
    ) -> str:
        code = new_token()
        self._codes[code] = AuthCode(
            client_id=client.client_id,
            redirect_uri=client.redirect_uri,
            org_id=org_id,
            user_id=user_id,
            scopes=scopes,
            offline=offline,
            forced_consent=forced_consent,
            expires_at=self.now() + self.options.code_lifetime,
        )
        self.counters["accounts.codes_issued"] += 1
        return code

    def token_request(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Answer of POST /oauth/v2/token; errors are bodies too, since Zoho sends them with 200."""
        grant_type = params.get("grant_type", "")
        self.counters[f"accounts.token.{grant_type or 'missing'}"] += 1
        client = self.clients.get(params.get("client_id", ""))
        if grant_type not in ("authorization_code", "refresh_token"):
            return {"error": "unsupported_grant_type"}
        if client is None or not secrets.compare_digest(
            client.client_secret, params.get("client_secret", "")
        ):
            return {"error": "invalid_client"}
        if grant_type == "authorization_code":
            return self._exchange_code(client, params)
        return self._refresh(client, params.get("refresh_token", ""))

    def _exchange_code(self, client: OAuthClient, params: Mapping[str, str]) -> dict[str, Any]:
        code = self._codes.get(params.get("code", ""))
        if code is None or code.used or code.expires_at <= self.now():
            return {"error": "invalid_code"}
        if code.client_id != client.client_id:
            return {"error": "invalid_client"}
        if params.get("redirect_uri", "") != code.redirect_uri:
            return {"error": "invalid_redirect_uri"}
        code.used = True
        # With access_type=offline alone Zoho hands out a refresh token only on the user's
        # first consent to this client; prompt=consent forces a fresh one.
        issue_refresh = code.offline and (
            code.forced_consent or not self._has_refresh(client.client_id, code.user_id)
        )
        grant = self._new_grant(
            client.client_id, code.org_id, code.user_id, code.scopes, refresh=issue_refresh
        )
        return self._token_body(self._mint(grant), grant.refresh_token)

    def _refresh(self, client: OAuthClient, refresh_token: str) -> dict[str, Any]:
        grant = self._by_refresh.get(refresh_token)
        if grant is None or grant.revoked or grant.client_id != client.client_id:
            return {"error": "invalid_code"}
        now = self.now()
        window_start = now - self.options.refresh_window
        while grant.refresh_times and grant.refresh_times[0] <= window_start:
            grant.refresh_times.popleft()
        if len(grant.refresh_times) >= self.options.refresh_limit:
            self.counters["accounts.token.throttled"] += 1
            return dict(THROTTLED)
        grant.refresh_times.append(now)
        return self._token_body(self._mint(grant))

    def _has_refresh(self, client_id: str, user_id: str) -> bool:
        return any(
            g.refresh_token and not g.revoked and g.client_id == client_id and g.user_id == user_id
            for g in self._grants
        )

    def _new_grant(
        self, client_id: str, org_id: str, user_id: str, scopes: tuple[str, ...], *, refresh: bool
    ) -> Grant:
        grant = Grant(
            id=len(self._grants) + 1,
            client_id=client_id,
            org_id=org_id,
            user_id=user_id,
            scopes=scopes,
            refresh_token=new_token() if refresh else None,
        )
        self._grants.append(grant)
        if grant.refresh_token is not None:
            self._by_refresh[grant.refresh_token] = grant
            live = [
                g
                for g in self._grants
                if g.refresh_token
                and not g.revoked
                and g.client_id == client_id
                and g.user_id == user_id
            ]
            for oldest in live[: max(0, len(live) - self.options.max_refresh_tokens)]:
                self._revoke_grant(oldest)
        return grant

    def _mint(self, grant: Grant) -> str:
        now = self.now()
        live = deque(
            t
            for t in grant.access_tokens
            if not self._access[t].revoked and self._access[t].expires_at > now
        )
        while grant.refresh_token is not None and len(live) >= self.options.max_live_access_tokens:
            self._access[live.popleft()].revoked = True
        token = new_token()
        self._access[token] = AccessToken(grant, now + self.options.access_token_lifetime)
        live.append(token)
        grant.access_tokens = live
        return token

    def _token_body(self, access_token: str, refresh_token: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": access_token}
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        body.update(
            api_domain=self.options.api_domain(),
            token_type="Bearer",
            expires_in=self.options.access_token_lifetime,
        )
        return body

    def _revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True
        for token in grant.access_tokens:
            self._access[token].revoked = True

    def revoke(self, token: str) -> bool:
        self.counters["accounts.revoke"] += 1
        grant = self._by_refresh.get(token)
        if grant is not None and not grant.revoked:
            self._revoke_grant(grant)
            return True
        access = self._access.get(token)
        if access is not None and not access.revoked:
            access.revoked = True
            return True
        return False

    def revoke_org(self, org_id: str) -> None:
        for grant in self._grants:
            if grant.org_id == org_id:
                self._revoke_grant(grant)

    def mint_direct(
        self, client_id: str, org_id: str, user_id: str, scopes: tuple[str, ...], *, offline: bool
    ) -> dict[str, Any]:
        """Admin shortcut: the tokens a completed consent would have produced."""
        grant = self._new_grant(client_id, org_id, user_id, scopes, refresh=offline)
        return self._token_body(self._mint(grant), grant.refresh_token)

    def resolve(self, access_token: str) -> AccessToken | None:
        token = self._access.get(access_token)
        if token is None or token.revoked or token.expires_at <= self.now():
            return None
        return token
