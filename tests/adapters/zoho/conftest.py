from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from app.adapters.http import build_http_client
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.limits import OrgLimiter
from app.adapters.zoho.names import ZohoNames

API = "https://www.zohoapis.eu"
CRM = f"{API}/crm/v8"
NAMESPACE = "gocardless__"


class CountingTokenSource:
    """What the real token source promises: one refresh however many callers saw it fail."""

    def __init__(self, token: str = "tok-0") -> None:
        self.token = token
        self.refreshes = 0
        self.stale_tokens: list[str] = []
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        return self.token

    async def refreshed_access_token(self, stale: str) -> str:
        self.stale_tokens.append(stale)
        async with self._lock:
            if stale == self.token:
                await asyncio.sleep(0.001)  # a real refresh takes a while; let callers pile up
                self.refreshes += 1
                self.token = f"tok-{self.refreshes}"
            return self.token


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def zoho_error(status: int, code: str, message: str = "", **details: Any) -> httpx.Response:
    return httpx.Response(
        status,
        json={"code": code, "details": details, "message": message, "status": "error"},
    )


def invalid_token() -> httpx.Response:
    return zoho_error(401, "INVALID_TOKEN", "invalid oauth token")


@pytest.fixture
def zoho() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=CRM, assert_all_called=False) as router:
        yield router


@pytest.fixture
def tokens() -> CountingTokenSource:
    return CountingTokenSource()


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client() as client:
        yield client


MakeCRM = Callable[..., ZohoCRM]


@pytest.fixture
def make_crm(
    http: httpx.AsyncClient, tokens: CountingTokenSource, sleeps: RecordingSleep
) -> MakeCRM:
    def make(*, limiter: OrgLimiter | asyncio.Semaphore | None = None, **kwargs: Any) -> ZohoCRM:
        kwargs.setdefault("sleep", sleeps)
        kwargs.setdefault("names", ZohoNames(NAMESPACE))
        return ZohoCRM(http, api_base=API, tokens=tokens, limiter=limiter, **kwargs)

    return make


@pytest.fixture
def crm(make_crm: MakeCRM) -> ZohoCRM:
    return make_crm()
