"""Fault injection switched per run: through the admin API or constructor options."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from app.simulators.common import FaultConfig
from app.simulators.gocardless.app import create_app

from .conftest import VERSION, Sim, build_state


async def test_admin_switches_faults_on_and_off(sim: Sim) -> None:
    configured = await sim.client.put(
        "/_sim/faults",
        json={"next_faults": ["server_error", "rate_limited"], "server_error_status": 503},
    )
    assert configured.status_code == 200
    unavailable = await sim.client.get("/customers")
    limited = await sim.client.get("/customers")
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["type"] == "gocardless"
    assert limited.status_code == 429
    assert parsedate_to_datetime(limited.headers["RateLimit-Reset"]) > sim.state.clock.now()
    assert (await sim.client.get("/customers")).status_code == 200
    await sim.client.put("/_sim/faults", json={"server_error_rate": 1.0})
    assert (await sim.client.get("/_sim/state")).status_code == 200  # admin is never faulted
    assert (await sim.client.get("/customers")).status_code == 500
    assert (await sim.client.delete("/_sim/faults")).status_code == 204
    assert (await sim.client.get("/customers")).status_code == 200


async def test_latency_and_path_prefixes(sim: Sim) -> None:
    await sim.client.put("/_sim/faults", json={"latency_ms": 150, "path_prefixes": ["/payments"]})
    started = time.monotonic()
    await sim.client.get("/customers")
    fast = time.monotonic() - started
    started = time.monotonic()
    await sim.client.get("/payments")
    slow = time.monotonic() - started
    assert fast < 0.1 <= 0.15 <= slow


async def test_timeouts_hold_the_call(sim: Sim) -> None:
    await sim.client.put("/_sim/faults", json={"timeout_rate": 1.0, "timeout_seconds": 30})
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await sim.client.get("/customers")


async def test_faults_from_constructor_options() -> None:
    state = build_state(faults=FaultConfig(server_error_rate=1.0, server_error_status=502))
    org = state.create_organisation()
    token = state.issue_token(org.id).token
    transport = httpx.ASGITransport(app=create_app(state))
    headers = {"Authorization": f"Bearer {token}", **VERSION}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gc", headers=headers
    ) as client:
        response = await client.get("/creditors")
    assert response.status_code == 502
    assert response.headers["RateLimit-Remaining"] == "999"


async def test_rate_limit_is_adjustable(sim: Sim) -> None:
    await sim.client.put("/_sim/rate-limit", json={"per_minute": 2})
    codes = [(await sim.client.get("/customers")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
