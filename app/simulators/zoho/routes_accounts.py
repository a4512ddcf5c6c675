"""Zoho Accounts endpoints: consent page, token endpoint, revocation."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.simulators.zoho import pages
from app.simulators.zoho.accounts import OAuthClient
from app.simulators.zoho.deps import get_state
from app.simulators.zoho.faults import apply_faults
from app.simulators.zoho.jsonio import ZohoJSONResponse
from app.simulators.zoho.state import ZohoSimState

StateDep = Annotated[ZohoSimState, Depends(get_state)]


async def accounts_faults(request: Request, state: StateDep) -> None:
    await apply_faults(state.faults, "accounts", request.url.path)


router = APIRouter(dependencies=[Depends(accounts_faults)])


async def _params(request: Request) -> dict[str, str]:
    """Zoho takes OAuth parameters in the query string or a form body, alike."""
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _client_or_error(state: ZohoSimState, params: dict[str, str]) -> OAuthClient | HTMLResponse:
    client = state.accounts.clients.get(params.get("client_id", ""))
    if params.get("response_type") != "code":
        return HTMLResponse(pages.accounts_error("Invalid response_type."), status_code=400)
    if client is None:
        return HTMLResponse(pages.accounts_error("Invalid Client."), status_code=400)
    if params.get("redirect_uri") != client.redirect_uri:
        return HTMLResponse(pages.accounts_error("Invalid Redirect Uri."), status_code=400)
    return client


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


@router.get("/oauth/v2/auth", response_class=HTMLResponse)
async def consent_page(request: Request, state: StateDep) -> Response:
    params = await _params(request)
    client = _client_or_error(state, params)
    if isinstance(client, HTMLResponse):
        return client
    if not state.orgs:
        return HTMLResponse(pages.accounts_error("No CRM organization exists yet."), 400)
    hidden = {
        k: params.get(k, "")
        for k in (
            "response_type",
            "client_id",
            "scope",
            "redirect_uri",
            "access_type",
            "prompt",
            "state",
        )
    }
    scopes = [s for s in params.get("scope", "").split(",") if s]
    return HTMLResponse(
        pages.consent(
            client_name=client.name,
            scopes=scopes,
            orgs=list(state.orgs.values()),
            hidden=hidden,
            signed_in=request.cookies.get(pages.SIGNED_IN_COOKIE),
        )
    )


@router.post("/oauth/v2/auth")
async def consent_decision(request: Request, state: StateDep) -> Response:
    params = await _params(request)
    client = _client_or_error(state, params)
    if isinstance(client, HTMLResponse):
        return client
    echo = {"state": params["state"]} if params.get("state") else {}
    if params.get("decision") != "approve":
        return RedirectResponse(
            _with_query(client.redirect_uri, {"error": "access_denied", **echo}), 302
        )
    org_id, _, user_id = params.get("account", "").partition(":")
    org = state.orgs.get(org_id)
    user = org.users.get(user_id) if org else None
    if org is None or user is None or user.status != "active":
        return HTMLResponse(pages.accounts_error("Choose an organization."), status_code=400)
    code = state.accounts.issue_code(
        client,
        org_id=org.id,
        user_id=user.id,
        scopes=tuple(s for s in params.get("scope", "").split(",") if s),
        offline=params.get("access_type") == "offline",
        forced_consent=params.get("prompt") == "consent",
    )
    state.counters["accounts.consent.approved"] += 1
    redirect = {
        **echo,
        "code": code,
        "location": org.location,
        "accounts-server": state.options.api_domain(),
    }
    return RedirectResponse(_with_query(client.redirect_uri, redirect), 302)


@router.post("/oauth/v2/token")
async def token(request: Request, state: StateDep) -> Response:
    # Zoho answers errors here with HTTP 200 too; callers must look for access_token.
    return ZohoJSONResponse(state.accounts.token_request(await _params(request)))


@router.post("/oauth/v2/token/revoke")
async def revoke(request: Request, state: StateDep) -> Response:
    if state.accounts.revoke((await _params(request)).get("token", "")):
        return ZohoJSONResponse({"status": "success"})
    return ZohoJSONResponse({"status": "failure", "error": "invalid_token"}, status_code=400)


@router.get("/oauth/serverinfo")
async def server_info(state: StateDep) -> Response:
    base = state.options.api_domain()
    locations = sorted({org.location for org in state.orgs.values()} | {"us"})
    return ZohoJSONResponse({"result": "success", "locations": {loc: base for loc in locations}})
