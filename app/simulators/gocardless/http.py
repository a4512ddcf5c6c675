"""What every simulated API call goes through: the access token, the version header,
the per-token rate limit (with its headers on every answer), a request id, and
GoCardless-shaped error bodies."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.simulators.common import FaultDecision, FaultKind, RateLimitStatus, http_date
from app.simulators.gocardless import errors
from app.simulators.gocardless.lifecycle import tick
from app.simulators.gocardless.state import AccessToken, Organisation, SimulatorState

API_VERSION = "2015-07-06"
# Paths that are not the REST API: our admin API, OAuth Connect and the hosted pages.
NON_API_PREFIXES = ("/_sim", "/oauth", "/billing/static", "/favicon.ico")


def is_api_path(path: str) -> bool:
    return not path.startswith(NON_API_PREFIXES)


def simulator(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def request_id(scope: Scope) -> str:
    state: dict[str, Any] = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = str(uuid.uuid4())
    return str(state["request_id"])


def bearer_token(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@dataclass
class ApiContext:
    state: SimulatorState
    org: Organisation
    token: AccessToken
    idempotency_key: str | None

    def require_write(self) -> None:
        if self.token.scope != "read_write":
            raise errors.insufficient_permissions()


async def api_context(request: Request) -> ApiContext:
    """FastAPI dependency: authenticate, check the version header, apply due lifecycle steps."""
    state = simulator(request)
    token_value = bearer_token(request.headers)
    token = state.tokens.get(token_value) if token_value else None
    if token is None or token.organisation_id not in state.organisations:
        raise errors.unauthorized()
    if token.revoked:
        raise errors.token_not_active()
    version = request.headers.get("gocardless-version")
    if version is None:
        raise errors.api_usage(
            400, "missing_version_header", "GoCardless-Version header is required"
        )
    if version != API_VERSION:
        raise errors.api_usage(400, "version_not_found", "The requested API version does not exist")
    org = state.organisations[token.organisation_id]
    tick(state, org)
    return ApiContext(state, org, token, request.headers.get("idempotency-key"))


def error_response(error: errors.GoCardlessError, scope: Scope) -> JSONResponse:
    return JSONResponse(error.body(request_id(scope)), status_code=error.status)


async def handle_gocardless_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.GoCardlessError)
    return error_response(exc, request.scope)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Unknown paths and verbs answer like the real API on API paths."""
    assert isinstance(exc, HTTPException)
    if not is_api_path(request.url.path):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    if exc.status_code == 405:
        error = errors.api_usage(405, "method_not_allowed", "Method not allowed")
    elif exc.status_code == 404:
        error = errors.api_usage(404, "not_found", "not found")
    else:
        error = errors.api_usage(exc.status_code, "bad_request", str(exc.detail))
    return error_response(error, request.scope)


def fault_response(decision: FaultDecision, scope: Scope) -> Response:
    """How the simulated GoCardless answers an injected fault."""
    if decision.kind is FaultKind.RATE_LIMITED:
        return error_response(errors.rate_limit_exceeded(), scope)
    if decision.kind is FaultKind.TIMEOUT:
        return error_response(
            errors.api_usage(504, "request_timed_out", "Request timed out"), scope
        )
    return error_response(errors.internal_error(decision.status), scope)


def rate_limit_headers(status: RateLimitStatus) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(status.limit).encode()),
        (b"ratelimit-remaining", str(status.remaining).encode()),
        (b"ratelimit-reset", http_date(status.reset_at).encode()),
    ]


class ApiHeadersMiddleware:
    """Counts each API call against its access token's 1000-a-minute budget, answers 429
    once it is spent, and stamps the RateLimit-* headers and a request id on every answer."""

    def __init__(self, app: ASGIApp, *, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(str(scope["path"])):
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = bearer_token(Headers(scope=scope))
        status = self.state.limiter.hit(token) if token in self.state.tokens else None
        extra = [(b"x-request-id", rid.encode())]
        if status is not None:
            extra += rate_limit_headers(status)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if status is not None and not status.allowed:
            body = errors.rate_limit_exceeded().body(rid)
            response = Response(json.dumps(body), status_code=429, media_type="application/json")
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
