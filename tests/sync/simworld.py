"""Our runtime against an in-process GoCardless simulator, with an installation connected to
it: the service's own provider clients, the real database, every GoCardless call counted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.gocardless import GoCardlessClient
from app.models import Audience, EventCursor, GoCardlessConnection
from app.runtime import Runtime, open_runtime
from app.services.installations import create_installation
from app.services.providers import gocardless_client
from app.simulators.gocardless.app import create_app
from app.simulators.gocardless.seed import seed_organisation
from app.simulators.gocardless.state import Organisation, SimulatorState
from tests.conftest import make_settings
from tests.simulators.gocardless.conftest import VERSION, build_state

GC_BASE = "http://gc.sim"


@dataclass
class SimWorld:
    runtime: Runtime
    installation_id: uuid.UUID
    state: SimulatorState
    org: Organisation
    # The simulator's API with the merchant's token, for arranging things (not counted).
    sim: httpx.AsyncClient
    # Our calls to GoCardless, in order.
    calls: list[httpx.Request]

    async def gc(self) -> GoCardlessClient:
        async with self.runtime.sessionmaker() as session:
            connection = await session.get(GoCardlessConnection, self.installation_id)
        assert connection is not None
        return gocardless_client(self.runtime, connection, priority="background")


@pytest.fixture
async def sim_world(clean_db: AsyncEngine) -> AsyncIterator[SimWorld]:
    # Storms are arranged through the API faster than GoCardless would let anyone.
    state = build_state(rate_limit_per_minute=10**6)
    org = state.create_organisation(name="Storm Merchant Ltd")
    seed_organisation(state, org, customers=20, seed=5)
    token = state.issue_token(org.id).token
    calls: list[httpx.Request] = []

    class Counting(httpx.ASGITransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            calls.append(request)
            return await super().handle_async_request(request)

    app = create_app(state)
    settings = make_settings(gocardless_api_url=GC_BASE)
    async with (
        open_runtime(settings, engine=clean_db, transport=Counting(app=app)) as runtime,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=GC_BASE,
            headers={"Authorization": f"Bearer {token}", **VERSION},
        ) as sim,
    ):
        async with runtime.sessionmaker() as session, session.begin():
            created = await create_installation(
                session, runtime, zoho_org_id="600", audience=Audience.admins, profile_ids=[]
            )
            installation_id = created.installation.id
            session.add(
                GoCardlessConnection(
                    installation_id=installation_id,
                    organisation_id=org.id,
                    environment="sandbox",
                    access_token_enc=runtime.cipher.encrypt(token),
                    creditor_id=org.creditor.id,
                    creditor_name=org.name,
                    verification_status="successful",
                    status="connected",
                    authorized_at=datetime.now(UTC),
                )
            )
            # Sync Now has run: the catch-up cursor exists.
            session.add(EventCursor(installation_id=installation_id, seen_until=state.clock.now()))
        yield SimWorld(runtime, installation_id, state, org, sim, calls)
    await state.dispatcher.aclose()
