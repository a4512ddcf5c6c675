"""Every merchant in real time: one merchant's backlog, waiting for its own GoCardless budget,
holds up no other merchant's events, and each pass gives every installation its share."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from app.jobs import worker
from app.models import SyncRun
from app.runtime import Runtime
from app.services.events import claims
from tests.foundation.conftest import Installed, connect_gocardless, connect_zoho, install
from tests.sync.conftest import Connected, Providers, event, gc_payment, webhook

MERCHANT_B = "OR000002"


async def _deliver(client: httpx.AsyncClient, events: list[dict[str, object]]) -> None:
    for start in range(0, len(events), 250):
        body, headers = webhook(events[start : start + 250])
        response = await client.post("/webhooks/gocardless", content=body, headers=headers)
        assert response.status_code == 204, response.text


async def _synced(runtime: Runtime, installation_id: uuid.UUID) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            SyncRun(
                installation_id=installation_id,
                state="succeeded",
                stage="done",
                started_at=datetime.now(UTC),
            )
        )


async def _merchant_b(client: httpx.AsyncClient, connected: Connected) -> Installed:
    b = await install(client, org_id="60099999999")
    await connect_zoho(connected.app, b, org_id="60099999999")
    await connect_gocardless(
        connected.app, b, access_token="gc-access-2", organisation_id=MERCHANT_B
    )
    return b


async def _storm(client: httpx.AsyncClient, providers: Providers, count: int) -> None:
    events = []
    for n in range(count):
        providers.gocardless["payments"][f"PMA{n}"] = gc_payment(f"PMA{n}", "submitted")
        events.append(event(f"EVA{n:04}", "payments", "submitted", {"payment": f"PMA{n}"}))
    await _deliver(client, events)


async def _count(runtime: Runtime, installation_id: uuid.UUID, condition: str) -> int:
    async with runtime.engine.connect() as connection:
        return int(
            (
                await connection.execute(
                    text(
                        f"SELECT count(*) FROM gc_events WHERE installation_id = :i AND {condition}"
                    ),
                    {"i": installation_id},
                )
            ).scalar_one()
        )


async def _pending(runtime: Runtime, installation_id: uuid.UUID) -> int:
    return await _count(runtime, installation_id, "status = 'pending'")


async def _claimed(runtime: Runtime, installation_id: uuid.UUID) -> int:
    return await _count(runtime, installation_id, "claimed_by IS NOT NULL")


async def test_a_merchant_waiting_for_its_budget_holds_up_no_other(
    client: httpx.AsyncClient,
    connected: Connected,
    providers: Providers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime: Runtime = connected.app.state.runtime
    a = connected.installed
    b = await _merchant_b(client, connected)
    await _synced(runtime, a.installation_id)
    await _synced(runtime, b.installation_id)
    await _storm(client, providers, 600)
    # Merchant A has spent its minute: GoCardless says none of its requests are left.
    runtime.gocardless_pacers.for_organisation("OR000001").observe(
        remaining=0, limit=1000, reset_in=60
    )
    monkeypatch.setattr(worker, "STOP_GRACE_SECONDS", 0.2)
    running = asyncio.create_task(worker.run_worker(runtime))
    try:
        # A's lane has claimed its backlog and waits for its budget…
        async with asyncio.timeout(20):
            while await _claimed(runtime, a.installation_id) == 0:
                await asyncio.sleep(0.05)
        # …when B's event arrives.
        providers.gocardless["payments"]["PMB1"] = gc_payment("PMB1", "confirmed")
        await _deliver(
            client,
            [event("EVB1", "payments", "confirmed", {"payment": "PMB1"}, organisation=MERCHANT_B)],
        )
        async with asyncio.timeout(20):
            while "PMB1" not in providers.crm.get("GoCardless_Payments", {}):
                await asyncio.sleep(0.05)
        assert providers.crm["GoCardless_Payments"]["PMB1"]["Status"] == "confirmed"
        # A's lane is still waiting for its budget: none of its calls went out.
        assert await _pending(runtime, a.installation_id) == 600
        assert providers.calls_to("/events") == 0
        assert not any("PMA" in call.request.url.path for call in providers.router.calls)
    finally:
        runtime.stopping.set()
        await asyncio.wait_for(running, timeout=10)


async def test_each_installation_gets_its_share_of_a_pass(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    runtime: Runtime = connected.app.state.runtime
    b = await _merchant_b(client, connected)
    await _storm(client, providers, 600)
    await _deliver(
        client,
        [
            event(
                f"EVB{n}", "payments", "confirmed", {"payment": f"PMB{n}"}, organisation=MERCHANT_B
            )
            for n in range(3)
        ],
    )
    claimed = await claims.claim(runtime, 100)
    by_installation = Counter(e.installation_id for e in claimed)
    assert by_installation == {connected.installed.installation_id: 50, b.installation_id: 3}
    await claims.release(runtime, claimed)
