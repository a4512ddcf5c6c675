"""Response envelopes: `{"<resources>": {...}}` and lists with `meta.cursors` and `meta.limit`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic_core import to_json
from starlette.responses import JSONResponse

from app.simulators.gocardless import errors
from app.simulators.gocardless.http import ApiContext
from app.simulators.gocardless.store import CursorError, Page, PageQuery

R = TypeVar("R")


def single(envelope: str, body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({envelope: body}, status_code=status)


class _ListResponse(JSONResponse):
    """A list page, written by pydantic-core's encoder: the standard library's took a fifth
    of the simulator's time in a 200,000-payment Sync Now, on the cores our side shares in
    the benchmark. The content is JSON's own types only, written alike by both."""

    def render(self, content: Any) -> bytes:
        return to_json(content)


def listing(
    envelope: str, page: Page[R], query: PageQuery, render: Callable[[R], dict[str, Any]]
) -> JSONResponse:
    return _ListResponse(
        {
            envelope: [render(item) for item in page.items],
            "meta": {"cursors": {"before": page.before, "after": page.after}, "limit": query.limit},
        }
    )


def paged(fetch: Callable[[], Page[R]]) -> Page[R]:
    """Run a table query, turning an unknown cursor into the API's validation error."""
    try:
        return fetch()
    except CursorError as exc:
        problems = errors.FieldErrors("")
        problems.add(exc.parameter, "is not a valid cursor")
        raise problems.to_error() from exc


def found(item: R | None) -> R:
    if item is None:
        raise errors.resource_not_found()
    return item


def check_idempotency(ctx: ApiContext, resource: str) -> None:
    """A repeated key answers 409 naming what the first request created."""
    if ctx.idempotency_key is None:
        return
    existing = ctx.org.idempotency.get((resource, ctx.idempotency_key))
    if existing is not None:
        raise errors.idempotent_creation_conflict(existing)


def linked(resource: str, item: R | None) -> R:
    if item is None:
        raise errors.link_not_found(resource)
    return item
