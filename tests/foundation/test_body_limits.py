"""Request bodies are bounded in size and time, refused before they cost memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import make_settings
from tests.foundation.conftest import ADMIN_HEADERS

MB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)


async def stream(total: int, *, chunk: bytes = CHUNK, pause: float = 0.0) -> AsyncIterator[bytes]:
    """`total` bytes in chunks, all the same object: the sender allocates nothing."""
    sent = 0
    while sent < total:
        if pause:
            await asyncio.sleep(pause)
        yield chunk
        sent += len(chunk)


def assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "content_too_large"


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/api/v1/installations", 64 * 1024), ("/webhooks/gocardless", MB)],
)
async def test_declared_length_over_the_limit_is_refused_unread(
    client: httpx.AsyncClient, path: str, limit: int
) -> None:
    consumed = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal consumed
        async for chunk in stream(limit + 1):
            consumed += len(chunk)
            yield chunk

    response = await client.post(
        path,
        content=counted(),
        headers={**ADMIN_HEADERS, "Content-Length": str(limit + 1)},
    )
    assert_413(response)
    assert consumed == 0
    # At the limit the body is read and judged on its merits.
    at_limit = await client.post(
        path, content=b" " * limit, headers={**ADMIN_HEADERS, "Content-Type": "application/json"}
    )
    assert at_limit.status_code in (400, 422, 498), at_limit.text


@pytest.mark.parametrize("path", ["/api/v1/installations", "/webhooks/gocardless"])
async def test_a_chunked_body_is_cut_at_the_limit(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, content=stream(3 * MB), headers=ADMIN_HEADERS)
    assert "content-length" not in response.request.headers
    assert_413(response)


async def test_limits_are_settings(clean_db: AsyncEngine) -> None:
    settings = make_settings(api_max_body_bytes=100, webhook_max_body_bytes=200)
    app = create_app(settings, engine=clean_db)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert_413(await client.post("/api/v1/installations", content=b"{" * 101))
            assert_413(await client.post("/webhooks/gocardless", content=b"{" * 201))
            webhook = await client.post("/webhooks/gocardless", content=b"{" * 150)
    assert webhook.status_code == 498


async def test_a_slow_body_times_out(clean_db: AsyncEngine) -> None:
    app = create_app(make_settings(body_read_timeout_seconds=0.3), engine=clean_db)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/api/v1/installations",
                content=stream(10_000, chunk=b" " * 1000, pause=0.1),
                headers=ADMIN_HEADERS,
            )
    assert response.status_code == 408, response.text
    assert response.json()["code"] == "request_timeout"


async def test_300_mb_bodies_do_not_grow_memory(app: FastAPI, client: httpx.AsyncClient) -> None:
    total = 300 * MB
    tracemalloc.start()
    try:
        for path in ("/api/v1/installations", "/webhooks/gocardless"):
            declared = await client.post(
                path,
                content=stream(total),
                headers={**ADMIN_HEADERS, "Content-Length": str(total)},
            )
            assert_413(declared)
            chunked = await client.post(path, content=stream(total), headers=ADMIN_HEADERS)
            assert_413(chunked)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The webhook's 1 MB limit plus a chunk is the most any of these may hold at once.
    assert peak < 4 * MB, f"peak traced memory {peak / MB:.1f} MB"
