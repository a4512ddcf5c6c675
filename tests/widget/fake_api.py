"""The service's widget endpoints played by Playwright's request interception: contract-shaped
JSON and problem+json answers, queued per endpoint, with every request recorded."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, Route

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Abort:
    """No answer at all, as when the network is down."""


@dataclass(frozen=True)
class Hold:
    """Keep the request pending until the test releases it."""


@dataclass
class Recorded:
    method: str
    path: str
    url: str
    headers: dict[str, str]
    body: Any


def ok(body: Any, status: int = 200) -> Reply:
    return Reply(status, body)


def problem(status: int, code: str, detail: str, **extras: Any) -> Reply:
    body = {
        "type": f"https://docs.example.test/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        **extras,
    }
    return Reply(status, body, PROBLEM_JSON)


@dataclass
class FakeApi:
    page: Page
    requests: list[Recorded] = field(default_factory=list)
    held: list[Route] = field(default_factory=list)
    _replies: dict[tuple[str, str], deque[Reply | Abort | Hold]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.page.route("**/api/v1/**", self._answer)

    def on(self, method: str, path: str, *replies: Reply | Abort | Hold) -> None:
        """Answer `method path` with these replies in turn; the last one repeats."""
        self._replies[(method, path)] = deque(replies)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def release(self, reply: Reply) -> None:
        """Answer every held request with `reply`."""
        while self.held:
            self._fulfil(self.held.pop(0), reply)

    def _answer(self, route: Route, request: Request) -> None:
        path = urlsplit(request.url).path
        body = json.loads(request.post_data) if request.post_data else None
        self.requests.append(
            Recorded(request.method, path, request.url, request.all_headers(), body)
        )
        queue = self._replies.get((request.method, path))
        if not queue:
            self._fulfil(route, problem(404, "not_found", f"no fake for {request.method} {path}"))
            return
        reply = queue.popleft() if len(queue) > 1 else queue[0]
        if isinstance(reply, Abort):
            route.abort("internetdisconnected")
        elif isinstance(reply, Hold):
            self.held.append(route)
        else:
            self._fulfil(route, reply)

    @staticmethod
    def _fulfil(route: Route, reply: Reply) -> None:
        route.fulfill(
            status=reply.status,
            content_type=reply.content_type,
            headers={"access-control-allow-origin": "*"},
            body="" if reply.body is None else json.dumps(reply.body),
        )
