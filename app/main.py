"""The FastAPI application: lifespan-built runtime, request context, problem+json errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from app import __version__
from app.api_docs import app_with_offline_docs
from app.errors import (
    PROBLEM_JSON,
    AppError,
    BadRequest,
    ContentTooLarge,
    InternalError,
    MethodNotAllowed,
    NeedsAuthorization,
    NotFound,
    RequestTimeout,
    TooManyRequests,
    ValidationFailed,
)
from app.jobs.worker import run_worker as worker_loop
from app.log import get_logger
from app.metrics import Metrics
from app.middleware import (
    BodyLimitMiddleware,
    HeadAsGetMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from app.openapi import install_openapi
from app.routers import health, installations, invoices, oauth, pages, webhooks
from app.routers.routing import body_was_not_json
from app.runtime import open_runtime
from app.services.identity.callers import Caller
from app.services.identity.links import Provider, authorize_link
from app.services.provider_errors import problem_for_provider_error, provider_error_types
from app.settings import Settings

log = get_logger("app.main")

WIDGET_DIR = Path(__file__).resolve().parent / "widget"

DESCRIPTION = """
Back end of the **GoCardless for Zoho CRM** extension: collect Zoho CRM invoices by bank
direct debit. Every error is RFC 9457 `application/problem+json` with a stable `code`.

Widget endpoints need `Authorization: Bearer <session>`: a CRM user's session from the
sign-in (`GET /oauth/zoho/signin`), or the installation's API key for server-to-server calls
(it acts as the installation, with admin rights, and never goes into a browser).
Managing the installation needs the CRM Administrator profile (403 `admin_required`);
invoice actions need a member of the install audience (403 `user_not_in_audience`).
"""


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    run_worker: bool = False,
    site: APIRouter | None = None,
) -> FastAPI:
    """`site`: routes that come before ours (the demo's start page answers `/`)."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(
            settings, engine=engine, transport=transport, metrics=metrics
        ) as runtime:
            app.state.runtime = runtime
            if not run_worker:
                yield
                return
            worker = asyncio.create_task(worker_loop(runtime), name="worker")
            try:
                yield
            finally:
                runtime.stopping.set()
                await worker

    app = app_with_offline_docs(
        docs=settings.docs_enabled,
        title="GoCardless for Zoho CRM",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit_for=lambda path: (
            settings.webhook_max_body_bytes
            if path.startswith(webhooks.PREFIX)
            else settings.api_max_body_bytes
        ),
        read_timeout=settings.body_read_timeout_seconds,
    )
    if settings.cors_allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(
        SecurityHeadersMiddleware, widget_frame_ancestors=settings.widget_frame_ancestors
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    if site is not None:
        app.include_router(site)
    # Webhooks first: routes are matched in order, and they are most of the traffic.
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(installations.router)
    app.include_router(oauth.router)
    app.include_router(invoices.router)
    app.include_router(pages.router)
    # The CRM widget's static pages (also laid out as a Zoho widget folder).
    app.mount(
        "/widget", StaticFiles(directory=WIDGET_DIR, html=True, check_dir=False), name="widget"
    )
    _install_error_handlers(app)
    install_openapi(app)
    return app


def _problem(request: Request, error: AppError) -> JSONResponse:
    body = error.problem(instance=request.url.path)
    headers = dict(error.headers)
    if isinstance(error, NeedsAuthorization):
        body.pop("authorize_url", None)
        caller: Caller | None = getattr(request.state, "caller", None)
        if caller is not None and caller.admin:
            # Authorize links are capabilities: handed to admins (and the API key) only.
            runtime = request.app.state.runtime
            body["authorize_url"] = authorize_link(
                runtime, Provider(error.provider), caller.installation_id
            )
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(
        body, status_code=error.status, media_type=PROBLEM_JSON, headers=headers or None
    )


# Errors Starlette and FastAPI raise themselves, as our own problems.
_HTTP_ERRORS: dict[int, tuple[type[AppError], str]] = {
    400: (BadRequest, "the request body could not be read"),
    404: (NotFound, "no such resource"),
    408: (RequestTimeout, "the request body did not arrive in time"),
    413: (ContentTooLarge, "the request body is larger than this endpoint accepts"),
}


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request, fallback: str | None) -> str:
    """Every method some route serves at this path (RFC 9110 §15.5.6), not only the first's.

    Asked of the routes themselves through `matches`, one method at a time: FastAPI's own
    405 names only the first route whose path matched.
    """
    methods = {
        method
        for method in _METHODS
        for route in request.app.router.routes
        if not isinstance(route, Mount)
        and route.matches({**request.scope, "method": method})[0] == Match.FULL
    }
    if not methods:
        # Only the static files answer 405 without a route that lists methods: they serve reads.
        return fallback or "GET, HEAD"
    if "GET" in methods:
        methods.add("HEAD")  # HeadAsGetMiddleware answers it
    return ", ".join(sorted(methods))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        return _problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field paths and messages only: never echo the submitted values back.
        errors = [
            {"field": ".".join(str(part) for part in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        if body_was_not_json(request) or any(err["type"] == "json_invalid" for err in exc.errors()):
            return _problem(request, BadRequest("the request body is not valid JSON"))
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return _problem(request, ValidationFailed(summary, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            allow = _allowed_methods(request, (exc.headers or {}).get("Allow"))
            return _problem(
                request,
                MethodNotAllowed(
                    f"this method is not allowed here; use {allow}", headers={"Allow": allow}
                ),
            )
        if exc.status_code in _HTTP_ERRORS:
            error_type, detail = _HTTP_ERRORS[exc.status_code]
            return _problem(request, error_type(detail))
        # Nothing more to say than the status itself: RFC 9457 §4.2.1's about:blank.
        phrase = HTTPStatus(exc.status_code).phrase
        body = {
            "type": "about:blank",
            "title": phrase,
            "status": exc.status_code,
            "detail": phrase,
            "code": f"http_{exc.status_code}",
            "instance": request.url.path,
        }
        return JSONResponse(
            body, status_code=exc.status_code, media_type=PROBLEM_JSON, headers=exc.headers
        )

    for provider_error in provider_error_types():

        @app.exception_handler(provider_error)
        async def provider_failure(request: Request, exc: Exception) -> JSONResponse:
            return _problem(request, problem_for_provider_error(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request.failed", path=request.url.path)
        return _problem(request, InternalError("something went wrong on our side; try again"))
