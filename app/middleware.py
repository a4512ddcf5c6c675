"""Request id on every log line and response, plus request metrics by route template."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable

import structlog
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON, ContentTooLarge
from app.metrics import Metrics

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        # A caller's id is kept only if it is harmless in logs and headers.
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        status = 500
        method = scope["method"]
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = _route_template(scope, root_path)
                self.metrics.requests.labels(route, method, str(status)).inc()
                self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)


def _route_template(scope: Scope, root_path: str) -> str:
    """The matched route's template, not the raw path, so ids don't explode cardinality.

    FastAPI names the route it matched in the scope, but not a mount (the widget's static
    files): a mount shows as the root path it added, labelled `<mount>/{path}`.
    """
    route = scope.get("route")
    if route is not None and not isinstance(route, Mount):
        return str(getattr(route, "path", "unmatched"))
    mounted = str(scope.get("root_path", ""))
    if mounted != root_path and mounted.startswith(root_path):
        return f"{mounted.removeprefix(root_path)}/{{path}}"
    return "unmatched"


def _csp(*directives: str) -> bytes:
    return "; ".join(directives).encode()


# Pages of ours that are not the widget (demo start page, mandate-setup thank-you page,
# errors): no scripts, never framed. The OAuth pages set their own, with a script nonce.
_PAGE_CSP = _csp(
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
)


class SecurityHeadersMiddleware:
    """nosniff and Referrer-Policy on every answer; a CSP on our HTML pages. The widget may be
    framed by Zoho CRM's hosts (WIDGET_FRAME_ANCESTORS); nothing else may be framed."""

    def __init__(self, app: ASGIApp, widget_frame_ancestors: list[str]) -> None:
        self.app = app
        ancestors = " ".join(["'self'", *widget_frame_ancestors])
        self.widget_csp = _csp(
            "default-src 'self'",
            # Zoho's embedded-app SDK, loaded when the widget runs inside the CRM.
            "script-src 'self' https://live.zwidgets.com",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {ancestors}",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        widget = path == "/widget" or path.startswith("/widget/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in present:
                    headers.append((b"referrer-policy", b"no-referrer"))
                content_type = dict(headers).get(b"content-type", b"")
                html = content_type.startswith(b"text/html")
                if widget:
                    headers.append((b"content-security-policy", self.widget_csp))
                # Pages with a policy of their own (Swagger UI, ReDoc: app/api_docs.py) keep it.
                elif html and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", _PAGE_CSP))
                if html and not widget and b"x-frame-options" not in present:
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGetMiddleware:
    """HEAD wherever GET works (RFC 9110 §9.3.2): the GET's status and headers, no body.

    FastAPI's routes, unlike Starlette's, do not answer HEAD for a GET route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        # In place, so outer middleware still sees which route answered.
        scope["method"] = "GET"
        await self.app(scope, receive, send_headers_only)


class BodyLimitMiddleware:
    """Request bodies bounded in size and in time, refused as early as possible.

    A declared `Content-Length` over the path's limit is answered 413 before a byte of the
    body is read; a body without one (chunked) is counted as it arrives and cut at the limit;
    a body still arriving when the read deadline passes is answered 408. Errors raised from
    `receive` are Starlette HTTPExceptions, so the app's handlers render them as problem+json.
    (Starlette's own RequestBodyLimitMiddleware answers in plain text.)
    """

    def __init__(
        self, app: ASGIApp, *, limit_for: Callable[[str], int], read_timeout: float
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            error = ContentTooLarge(f"the request body may be at most {limit} bytes")
            response = JSONResponse(
                error.problem(instance=scope["path"]),
                status_code=error.status,
                media_type=PROBLEM_JSON,
                # The body stays unread: the connection cannot carry another request.
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.read_timeout
        received = 0
        complete = False

        async def bounded_receive() -> Message:
            nonlocal received, complete
            if complete:  # only disconnects are left: no deadline on waiting for those
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, bounded_receive, send)
