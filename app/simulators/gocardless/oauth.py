"""OAuth "Connect" for partner apps: the consent page, code exchange and revocation.

Error answers follow OAuth 2.0 (RFC 6749 §4.1.2.1 and §5.2): a bad client or
redirect_uri is shown to the person, never redirected; other authorize errors go back
to the redirect_uri with `error` and `state`; the token endpoint answers JSON.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.simulators.gocardless.http import simulator
from app.simulators.gocardless.pages import hidden, page
from app.simulators.gocardless.state import AuthorizationCode, OAuthClient, SimulatorState

router = APIRouter(prefix="/oauth")
SCOPES = ("read_write", "read_only")
PASSED_ON = ("client_id", "redirect_uri", "scope", "state", "response_type")


def _redirect(redirect_uri: str, **params: str | None) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)


def _check_client(state: SimulatorState, params: dict[str, str]) -> OAuthClient | Response:
    client = state.oauth_clients.get(params.get("client_id", ""))
    if client is None:
        return page("Unknown app", "<p>No app is registered with this client_id.</p>", status=400)
    if params.get("redirect_uri") != client.redirect_uri:
        return page(
            "Redirect URI mismatch",
            "<p>The redirect_uri does not match the one registered for this app.</p>",
            status=400,
        )
    return client


def _request_error(params: dict[str, str]) -> str | None:
    if params.get("response_type") != "code":
        return "unsupported_response_type"
    if params.get("scope") not in SCOPES:
        return "invalid_scope"
    return None


@router.get("/authorize")
async def authorize(request: Request) -> Response:
    state = simulator(request)
    params = dict(request.query_params)
    client = _check_client(state, params)
    if isinstance(client, Response):
        return client
    error = _request_error(params)
    if error is not None:
        return _redirect(client.redirect_uri, error=error, state=params.get("state"))
    options = "".join(
        f"<option value='{escape(org.id)}'>{escape(org.name)} ({escape(org.id)})</option>"
        for org in state.organisations.values()
    )
    email = params.get("prefill[email]")
    body = (
        f"<p><strong>{escape(client.name)}</strong> asks for "
        f"<strong>{escape(params['scope'])}</strong> access to your GoCardless account.</p>"
        "<form method='post' action='/oauth/authorize'>"
        f"{hidden({k: params.get(k) for k in PASSED_ON})}{hidden({'prefill_email': email})}"
        "<label for='organisation_id'>Account</label>"
        f"<select id='organisation_id' name='organisation_id'>{options}"
        "<option value='new'>Sign up: a new account</option></select>"
        "<button name='decision' value='approve'>Approve</button>"
        "<button name='decision' value='deny'>Deny</button></form>"
    )
    return page("Connect to GoCardless", body)


@router.post("/authorize")
async def decide(request: Request) -> Response:
    state = simulator(request)
    params = {k: str(v) for k, v in (await request.form()).items()}
    client = _check_client(state, params)
    if isinstance(client, Response):
        return client
    error = _request_error(params)
    if params.get("decision") != "approve":
        error = error or "access_denied"
    if error is not None:
        return _redirect(client.redirect_uri, error=error, state=params.get("state"))
    organisation_id = params.get("organisation_id", "new")
    if organisation_id not in state.organisations:
        organisation_id = state.create_organisation(email=params.get("prefill_email") or None).id
    code = AuthorizationCode(
        code=state.ids.token(32),
        client_id=client.client_id,
        redirect_uri=client.redirect_uri,
        scope="read_write" if params["scope"] == "read_write" else "read_only",
        organisation_id=organisation_id,
        expires_at=state.clock.now() + state.options.authorization_code_ttl,
    )
    state.authorization_codes[code.code] = code
    return _redirect(client.redirect_uri, code=code.code, state=params.get("state"))


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _authenticate(
    state: SimulatorState, request: Request, form: dict[str, str]
) -> OAuthClient | None:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        decoded = base64.b64decode(basic[6:]).decode(errors="replace")
        client_id, _, secret = decoded.partition(":")
    client = state.oauth_clients.get(client_id or "")
    if client is None or secret != client.client_secret.get_secret_value():
        return None
    return client


INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication "
    "included, or unsupported authentication method."
)
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)


@router.post("/access_token")
async def access_token(request: Request) -> Response:
    state = simulator(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    if form.get("grant_type") != "authorization_code":
        return _oauth_error(
            "unsupported_grant_type", "The authorization grant type is not supported."
        )
    client = _authenticate(state, request, form)
    if client is None:
        return _oauth_error("invalid_client", INVALID_CLIENT, 401)
    code = state.authorization_codes.get(form.get("code", ""))
    if (
        code is None
        or code.used
        or code.client_id != client.client_id
        or code.redirect_uri != form.get("redirect_uri")
        or code.expires_at < state.clock.now()
    ):
        return _oauth_error("invalid_grant", INVALID_GRANT)
    code.used = True  # single use, even if this exchange then fails downstream
    org = state.organisations[code.organisation_id]
    token = state.issue_token(org.id, scope=code.scope, client_id=client.client_id)
    body: dict[str, Any] = {
        "access_token": token.token,
        "scope": token.scope,
        "token_type": "bearer",
        "organisation_id": org.id,
        "email": org.email,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/revoke")
async def revoke(request: Request) -> Response:
    state = simulator(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    client = _authenticate(state, request, form)
    if client is None:
        return _oauth_error("invalid_client", INVALID_CLIENT, 401)
    token = state.tokens.get(form.get("token", ""))
    # RFC 7009: an unknown token is not an error, and another client's token is left alone.
    if token is not None and token.client_id == client.client_id:
        token.revoked = True
    return JSONResponse({})
