"""Fixtures: a fresh in-process Zoho simulator per test, over ASGI, with a hand-moved clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.simulators.zoho.options import ManualClock, ZohoSimOptions
from app.simulators.zoho.seed import SeedSummary, seed_org
from app.simulators.zoho.server import create_app
from app.simulators.zoho.state import DEFAULT_CLIENT_ID, FULL_SCOPES, ZohoSimState

BASE_URL = "http://zoho.sim.test"


@dataclass
class Sim:
    state: ZohoSimState
    clock: ManualClock
    http: httpx.AsyncClient
    seeded: SeedSummary
    token: str

    @property
    def org_id(self) -> str:
        return self.seeded.org.id

    def mint(
        self,
        scopes: tuple[str, ...] = FULL_SCOPES,
        *,
        user_id: str | None = None,
        org_id: str | None = None,
    ) -> dict[str, Any]:
        org = self.state.orgs[org_id or self.org_id]
        return self.state.accounts.mint_direct(
            DEFAULT_CLIENT_ID, org.id, user_id or org.admin_user_id, scopes, offline=True
        )

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {token or self.token}"}

    async def crm(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.http.request(method, f"/crm/v8{path}", headers=self.auth(token), **kwargs)


def make_state(clock: ManualClock, **options: Any) -> ZohoSimState:
    return ZohoSimState(ZohoSimOptions(base_url=BASE_URL, clock=clock, **options))


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def sim(sim_options: dict[str, Any]) -> AsyncIterator[Sim]:
    clock = ManualClock()
    state = make_state(clock, **sim_options)
    seeded = seed_org(state)
    app = create_app(state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        sim = Sim(state, clock, http, seeded, "")
        sim.token = sim.mint()["access_token"]
        yield sim
