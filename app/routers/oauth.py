"""Browser endpoints of the two OAuth flows; every outcome is a small HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.log import get_logger
from app.routers.deps import RuntimeDep, SessionDep
from app.services.authorization import (
    AuthorizationFailed,
    AuthorizationResult,
    complete_gocardless,
    complete_zoho,
    consume_state,
    start_authorization,
)
from app.services.links import Provider

router = APIRouter(prefix="/oauth", tags=["oauth"], include_in_schema=True)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
log = get_logger("app.routers.oauth")

_PROVIDER_NAMES = {Provider.zoho: "Zoho CRM", Provider.gocardless: "GoCardless"}
_BROWSER_RESPONSES: dict[int | str, dict[str, object]] = {
    302: {"description": "Redirect to the provider's consent page"},
    400: {"description": "HTML error page: bad or expired link", "content": {"text/html": {}}},
}
_CALLBACK_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "HTML page: connected", "content": {"text/html": {}}},
    400: {
        "description": "HTML error page: denied consent, bad/expired/reused state, "
        "mismatched org, provider error; nothing stored",
        "content": {"text/html": {}},
    },
}


def error_page(request: Request, provider: Provider, message: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "oauth_result.html",
        {
            "kind": "error",
            "title": f"{_PROVIDER_NAMES[provider]} was not connected",
            "message": message,
            "warning": None,
        },
        status_code=400,
    )


def _success_page(request: Request, result: AuthorizationResult) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "oauth_result.html",
        {
            "kind": "ok",
            "title": f"{_PROVIDER_NAMES[result.provider]} connected",
            "message": result.summary,
            "warning": result.warning,
        },
    )


@router.get(
    "/{provider}/start",
    summary="Start an authorization from a signed link",
    response_class=RedirectResponse,
    status_code=302,
    responses=_BROWSER_RESPONSES,
)
async def start(
    request: Request,
    provider: Provider,
    session: SessionDep,
    runtime: RuntimeDep,
    link: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response:
    try:
        if not link:
            raise AuthorizationFailed("This authorization link is incomplete.")
        url = await start_authorization(session, runtime, provider, link)
    except AuthorizationFailed as exc:
        return error_page(request, provider, exc.detail)
    return RedirectResponse(url, status_code=302)


@router.get(
    "/zoho/callback",
    summary="Zoho Accounts redirects here",
    response_class=HTMLResponse,
    responses=_CALLBACK_RESPONSES,
)
async def zoho_callback(
    request: Request,
    runtime: RuntimeDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    accounts_server: Annotated[str | None, Query(alias="accounts-server")] = None,
) -> HTMLResponse:
    try:
        installation_id = await consume_state(runtime, Provider.zoho, state)
        if error or not code:
            raise AuthorizationFailed(_denied_message(Provider.zoho, error))
        async with runtime.sessionmaker() as session, session.begin():
            result = await complete_zoho(
                session, runtime, installation_id, code=code, accounts_server=accounts_server
            )
    except AuthorizationFailed as exc:
        log.info("zoho.oauth.failed", reason=exc.detail)
        return error_page(request, Provider.zoho, exc.detail)
    return _success_page(request, result)


@router.get(
    "/gocardless/callback",
    summary="GoCardless Connect redirects here",
    response_class=HTMLResponse,
    responses=_CALLBACK_RESPONSES,
)
async def gocardless_callback(
    request: Request,
    runtime: RuntimeDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    try:
        installation_id = await consume_state(runtime, Provider.gocardless, state)
        if error or not code:
            raise AuthorizationFailed(_denied_message(Provider.gocardless, error))
        async with runtime.sessionmaker() as session, session.begin():
            result = await complete_gocardless(session, runtime, installation_id, code=code)
    except AuthorizationFailed as exc:
        log.info("gocardless.oauth.failed", reason=exc.detail)
        return error_page(request, Provider.gocardless, exc.detail)
    return _success_page(request, result)


def _denied_message(provider: Provider, error: str | None) -> str:
    name = _PROVIDER_NAMES[provider]
    if error == "access_denied":
        return f"Access to {name} was denied, so nothing was connected. You can try again later."
    if error:
        return f"{name} reported an error ({error[:64]}); nothing was connected."
    return f"{name} did not send an authorization code; nothing was connected."
