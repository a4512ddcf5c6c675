"""Browser endpoints of the OAuth flows: the installation's two authorizations and the widget
user's sign-in. Every outcome is a small HTML page, never framed, with a strict CSP."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.errors import AppError
from app.log import get_logger
from app.routers.deps import RuntimeDep, SessionDep
from app.runtime import Runtime
from app.services.authorization import (
    AuthorizationFailed,
    AuthorizationResult,
    complete_gocardless,
    complete_zoho,
    consume_state,
    read_state,
    start_authorization,
)
from app.services.identity.browser import (
    BROWSER_COOKIE,
    BROWSER_COOKIE_MAX_AGE,
    browser_id_or_new,
)
from app.services.identity.links import Provider
from app.services.identity.signin import SignedIn, complete_signin, start_signin
from app.services.identity.state import Flow

router = APIRouter(prefix="/oauth", tags=["oauth"], include_in_schema=True)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
log = get_logger("app.routers.oauth")

_PROVIDER_NAMES = {Provider.zoho: "Zoho CRM", Provider.gocardless: "GoCardless"}
_BROWSER_RESPONSES: dict[int | str, dict[str, object]] = {
    302: {"description": "Redirect to the provider's consent page"},
    400: {
        "description": "HTML error page: bad, expired or already used link",
        "content": {"text/html": {}},
    },
}
_CALLBACK_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "HTML page: connected (or signed in)", "content": {"text/html": {}}},
    400: {
        "description": "HTML error page: denied consent, bad/expired/reused state, a flow "
        "finished in another browser, mismatched org, provider error; nothing stored",
        "content": {"text/html": {}},
    },
}


def _page_csp(nonce: str) -> str:
    return (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _page(
    request: Request,
    *,
    kind: str,
    title: str,
    message: str,
    status_code: int = 200,
    warning: str | None = None,
    extra: dict[str, Any] | None = None,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    return templates.TemplateResponse(
        request,
        "oauth_result.html",
        {
            "kind": kind,
            "title": title,
            "message": message,
            "warning": warning,
            "csp_nonce": nonce,
            **(extra or {}),
        },
        status_code=status_code,
        headers={"Content-Security-Policy": _page_csp(nonce), "Cache-Control": "no-store"},
    )


def error_page(request: Request, provider: Provider, error: AppError) -> HTMLResponse:
    return _page(
        request,
        kind="error",
        title=f"{_PROVIDER_NAMES[provider]} was not connected",
        message=error.detail,
        status_code=error.status,
        extra={"code": error.code},
    )


def _signin_error_page(request: Request, error: AppError) -> HTMLResponse:
    return _page(
        request,
        kind="error",
        title="You were not signed in",
        message=error.detail,
        status_code=error.status,
        extra={"code": error.code},
    )


def _success_page(request: Request, result: AuthorizationResult) -> HTMLResponse:
    return _page(
        request,
        kind="ok",
        title=f"{_PROVIDER_NAMES[result.provider]} connected",
        message=result.summary,
        warning=result.warning,
    )


def _signed_in_page(request: Request, signed_in: SignedIn) -> HTMLResponse:
    who = signed_in.user_name or f"user {signed_in.session.claims.user_id}"
    return _page(
        request,
        kind="ok",
        title="Signed in",
        message=f"You are signed in to GoCardless for Zoho CRM as {who}.",
        extra={"session": signed_in.session_json(), "post_to": signed_in.post_to_origin},
    )


def _with_browser_cookie(response: Response, runtime: Runtime, browser_id: str) -> Response:
    response.set_cookie(
        BROWSER_COOKIE,
        browser_id,
        max_age=BROWSER_COOKIE_MAX_AGE,
        path="/oauth",
        httponly=True,
        secure=runtime.settings.public_base_url.startswith("https://"),
        samesite="lax",
    )
    return response


@router.get(
    "/zoho/signin",
    summary="Widget sign-in: prove the CRM user through Zoho and receive a session",
    description="Redirects to Zoho's consent with identity scopes only (`ZohoCRM.users.READ`, "
    "`ZohoCRM.org.READ`, `access_type=online`); the state is bound to a cookie set here. "
    "The callback (`/oauth/zoho/callback`) answers an HTML page carrying "
    '`<script type="application/json" id="gocardless-zoho-session">` with `token`, '
    "`expires_at`, `user_id` and `installation_id`, also posted to `window.opener` when "
    "`origin` is an allowed widget origin. Refusals are HTML pages: 403 "
    "`user_not_in_audience`, 404 `not_installed`, 400 for a bad state.",
    response_class=RedirectResponse,
    status_code=302,
    responses=_BROWSER_RESPONSES,
)
async def zoho_signin(
    request: Request,
    runtime: RuntimeDep,
    org: Annotated[str, Query(max_length=32, description="The Zoho CRM org id")] = "",
    origin: Annotated[
        str | None, Query(max_length=300, description="The widget page's origin")
    ] = None,
) -> Response:
    browser_id = browser_id_or_new(request.cookies.get(BROWSER_COOKIE))
    try:
        url = start_signin(runtime, org_id=org, origin=origin, browser_id=browser_id)
    except AuthorizationFailed as exc:
        return _signin_error_page(request, exc)
    return _with_browser_cookie(RedirectResponse(url, status_code=302), runtime, browser_id)


@router.get(
    "/{provider}/start",
    summary="Start an authorization from a signed link",
    description="The link is single use and valid for 15 minutes; the OAuth flow it starts "
    "can only be finished in this browser (a cookie).",
    response_class=RedirectResponse,
    status_code=302,
    responses=_BROWSER_RESPONSES,
)
async def start(
    request: Request,
    provider: Provider,
    runtime: RuntimeDep,
    link: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response:
    browser_id = browser_id_or_new(request.cookies.get(BROWSER_COOKIE))
    try:
        if not link:
            raise AuthorizationFailed("This authorization link is incomplete.")
        url = await start_authorization(runtime, provider, link, browser_id=browser_id)
    except AuthorizationFailed as exc:
        return error_page(request, provider, exc)
    return _with_browser_cookie(RedirectResponse(url, status_code=302), runtime, browser_id)


@router.get(
    "/zoho/callback",
    summary="Zoho Accounts redirects here (authorization and sign-in)",
    response_class=HTMLResponse,
    responses={
        **_CALLBACK_RESPONSES,
        403: {"description": "Sign-in: `user_not_in_audience`", "content": {"text/html": {}}},
        404: {"description": "Sign-in: `not_installed`", "content": {"text/html": {}}},
    },
)
async def zoho_callback(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=1024)] = None,
    state: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    accounts_server: Annotated[str | None, Query(alias="accounts-server", max_length=256)] = None,
) -> HTMLResponse:
    browser_id = request.cookies.get(BROWSER_COOKIE)
    try:
        flow, payload = read_state(runtime, state)
    except AuthorizationFailed as exc:
        log.info("zoho.oauth.failed", reason=exc.detail)
        return error_page(request, Provider.zoho, exc)
    if flow is Flow.signin:
        try:
            if error or not code:
                raise AuthorizationFailed(_denied_message(Provider.zoho, error))
            signed_in = await complete_signin(
                session,
                runtime,
                payload,
                code=code,
                accounts_server=accounts_server,
                browser_id=browser_id,
            )
        except AppError as exc:
            log.info("identity.signin.failed", problem=exc.code, reason=exc.detail)
            return _signin_error_page(request, exc)
        return _signed_in_page(request, signed_in)
    try:
        installation_id = await consume_state(runtime, Provider.zoho, payload, browser_id)
        if error or not code:
            raise AuthorizationFailed(_denied_message(Provider.zoho, error))
        async with runtime.sessionmaker() as own, own.begin():
            result = await complete_zoho(
                own, runtime, installation_id, code=code, accounts_server=accounts_server
            )
    except AuthorizationFailed as exc:
        log.info("zoho.oauth.failed", reason=exc.detail)
        return error_page(request, Provider.zoho, exc)
    return _success_page(request, result)


@router.get(
    "/gocardless/callback",
    summary="GoCardless Connect redirects here",
    response_class=HTMLResponse,
    responses={
        **_CALLBACK_RESPONSES,
        409: {
            "description": "`gocardless_account_mismatch`: another organisation than the "
            "connected one; nothing changed",
            "content": {"text/html": {}},
        },
    },
)
async def gocardless_callback(
    request: Request,
    runtime: RuntimeDep,
    code: Annotated[str | None, Query(max_length=1024)] = None,
    state: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> HTMLResponse:
    try:
        flow, payload = read_state(runtime, state)
        if flow is not Flow.authorize:
            raise AuthorizationFailed("The authorization state belongs to another flow.")
        installation_id = await consume_state(
            runtime, Provider.gocardless, payload, request.cookies.get(BROWSER_COOKIE)
        )
        if error or not code:
            raise AuthorizationFailed(_denied_message(Provider.gocardless, error))
        async with runtime.sessionmaker() as session, session.begin():
            result = await complete_gocardless(session, runtime, installation_id, code=code)
    except AppError as exc:
        log.info("gocardless.oauth.failed", problem=exc.code, reason=exc.detail)
        return error_page(request, Provider.gocardless, exc)
    return _success_page(request, result)


def _denied_message(provider: Provider, error: str | None) -> str:
    name = _PROVIDER_NAMES[provider]
    if error == "access_denied":
        return f"Access to {name} was denied, so nothing was connected. You can try again later."
    if error:
        return f"{name} reported an error ({error[:64]}); nothing was connected."
    return f"{name} did not send an authorization code; nothing was connected."
