"""One in-process transport for every HTTP call of an end-to-end test: routed by host to ASGI
apps, logged, and trippable (a crash or a change of the world at the nth matching call)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from starlette.types import ASGIApp

# What a tripwire does when it fires: change a simulator, raise `Crash`, ...
Action = Callable[[], Awaitable[None] | None]


class Crash(BaseException):
    """The process dies mid-call. A BaseException, so no `except Exception` in our code can
    swallow it, as nothing swallows a kill; `finally` blocks still run, as they would not."""


def crash() -> None:
    raise Crash("simulated crash")


@dataclass(frozen=True)
class Call:
    host: str
    method: str
    path: str
    status: int | None


@dataclass
class _Tripwire:
    host: str
    method: str
    path: str
    prefix: bool
    nth: int
    action: Action
    after_response: bool
    seen: int = 0

    def matches(self, request: httpx.Request) -> bool:
        path = request.url.path
        return (
            request.url.host == self.host
            and request.method == self.method
            and (path.startswith(self.path) if self.prefix else path == self.path)
        )


class HostRouter(httpx.AsyncBaseTransport):
    """Sends each request to the ASGI app mounted for its host; no sockets anywhere."""

    def __init__(self) -> None:
        self._apps: dict[str, httpx.ASGITransport] = {}
        self._tripwires: list[_Tripwire] = []
        self.calls: list[Call] = []

    def mount(self, base_url: str, app: ASGIApp) -> None:
        self._apps[httpx.URL(base_url).host] = httpx.ASGITransport(app=app)

    def trip(
        self,
        method: str,
        url: str,
        *,
        nth: int,
        action: Action = crash,
        after_response: bool = False,
        prefix: bool = False,
    ) -> None:
        """Run `action` at the `nth` call to `url` (its path exactly, or any path under it
        with `prefix`): before the call goes out, or after its answer came back (the remote
        side has acted, the caller never hears of it)."""
        target = httpx.URL(url)
        self._tripwires.append(
            _Tripwire(target.host, method, target.path, prefix, nth, action, after_response)
        )

    def count(self, method: str, url: str, *, prefix: bool = False, ok_only: bool = True) -> int:
        target = httpx.URL(url)
        return sum(
            1
            for call in self.calls
            if call.host == target.host
            and call.method == method
            and (call.path.startswith(target.path) if prefix else call.path == target.path)
            and (not ok_only or (call.status is not None and call.status < 400))
        )

    def forget_calls(self) -> None:
        self.calls.clear()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._apps.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"nothing serves {request.url.host}", request=request)
        await self._fire(request, after_response=False)
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            self.calls.append(Call(request.url.host, request.method, request.url.path, None))
            raise
        await response.aread()
        self.calls.append(
            Call(request.url.host, request.method, request.url.path, response.status_code)
        )
        await self._fire(request, after_response=True)
        return response

    async def _fire(self, request: httpx.Request, *, after_response: bool) -> None:
        for wire in list(self._tripwires):
            if wire.after_response != after_response or not wire.matches(request):
                continue
            wire.seen += 1
            if wire.seen == wire.nth:
                self._tripwires.remove(wire)
                outcome = wire.action()
                if inspect.isawaitable(outcome):
                    await outcome
