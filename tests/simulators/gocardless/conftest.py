"""A small seeded simulator driven in-process, plus the shared reference fixtures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.simulators.common import DeliveryPolicy
from app.simulators.gocardless.app import create_app
from app.simulators.gocardless.seed import seed_organisation
from app.simulators.gocardless.state import Organisation, SimulatorOptions, SimulatorState
from tests.reference import GOCARDLESS_FIXTURES as FIXTURES

# A Wednesday morning, so working-day arithmetic is easy to follow.
START = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
VERSION = {"GoCardless-Version": "2015-07-06"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class Sim:
    """The state, its first organisation, and a client already holding that org's token."""

    def __init__(self, state: SimulatorState, org: Organisation, client: httpx.AsyncClient) -> None:
        self.state = state
        self.org = org
        self.client = client

    def mandate(self, scheme: str = "bacs", status: str = "active") -> str:
        for mandate in self.org.mandates.newest_first():
            if mandate.scheme == scheme and mandate.status == status:
                return mandate.id
        raise LookupError(f"no {status} {scheme} mandate seeded")


def build_state(**options: Any) -> SimulatorState:
    defaults: dict[str, Any] = {
        "seed": 7,
        "start": START,
        "frozen_clock": True,
        "delivery": DeliveryPolicy(batch_window_seconds=0, retry_delays_seconds=[0.01, 0.02]),
    }
    return SimulatorState(SimulatorOptions(**{**defaults, **options}))


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    state = build_state()
    org = state.create_organisation(name="Acme Widgets Ltd")
    seed_organisation(state, org, customers=60, seed=3)
    token = state.issue_token(org.id)
    app = create_app(state)
    headers = {"Authorization": f"Bearer {token.token}", **VERSION}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gc.sim", headers=headers
    ) as client:
        yield Sim(state, org, client)
    await state.dispatcher.aclose()
