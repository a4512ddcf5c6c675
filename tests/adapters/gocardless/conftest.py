"""Fixture bodies exactly as GoCardless's official client ships them, served through respx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from app.adapters.gocardless import GoCardlessClient
from app.adapters.http import build_http_client
from tests.reference import GOCARDLESS_FIXTURES as FIXTURES

FIXTURES_EXTRA = FIXTURES
API = "https://api-sandbox.gocardless.com"


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_body(resource: str, method: str) -> dict[str, Any]:
    """The response body of one method in a resource fixture file (e.g. payments/create)."""
    body: dict[str, Any] = fixture_json(f"{resource}.json")[method]["body"]
    return body


class RecordedSleep:
    """Stands in for asyncio.sleep: returns at once and remembers each wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def sleeps() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client() as client:
        yield client


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client(
    http: httpx.AsyncClient, sleeps: RecordedSleep, api: respx.MockRouter
) -> GoCardlessClient:
    return GoCardlessClient(http, api_url=API, access_token="sandbox_token", sleep=sleeps)
