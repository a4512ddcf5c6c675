"""The worker's inbox processing: refetch, coalescing, ordering, retries, parking, many workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text, update

from app.models import GcPayment, GoCardlessConnection, InboxEvent, SyncRun
from app.runtime import open_runtime
from app.services.crm.scheduler import push_changes
from app.services.events import MAX_ATTEMPTS, process_due_events, replay_failed
from app.settings import Settings
from tests.sync.conftest import (
    Connected,
    Providers,
    event,
    gc_customer,
    gc_mandate,
    gc_payment,
    webhook,
)


async def deliver(client: httpx.AsyncClient, events: list[dict[str, object]]) -> None:
    body, headers = webhook(events)
    response = await client.post("/webhooks/gocardless", content=body, headers=headers)
    assert response.status_code == 204, response.text


async def mirror_payment(app: FastAPI, payment_id: str) -> GcPayment | None:
    async with app.state.runtime.sessionmaker() as session:
        return await session.scalar(select(GcPayment).where(GcPayment.id == payment_id))


async def statuses(app: FastAPI) -> list[str]:
    async with app.state.runtime.engine.connect() as connection:
        return list(
            (await connection.execute(text("SELECT status FROM gc_events ORDER BY pk"))).scalars()
        )


async def test_ten_events_for_one_payment_cost_one_fetch(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    providers.gocardless["payments"]["PM001"] = gc_payment("PM001", "confirmed")
    actions = ["created", "submitted", "confirmed"] * 3 + ["paid_out"]
    await deliver(
        client,
        [event(f"EV{i:03}", "payments", a, {"payment": "PM001"}) for i, a in enumerate(actions)],
    )
    assert await process_due_events(connected.app.state.runtime) == 10
    assert providers.calls_to("/payments/PM001") == 1
    assert await statuses(connected.app) == ["processed"] * 10
    payment = await mirror_payment(connected.app, "PM001")
    assert payment is not None and payment.status == "confirmed" and payment.mandate_id == "MD0001"


async def test_out_of_order_and_late_failure_end_in_the_latest_state(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    runtime = connected.app.state.runtime
    providers.gocardless["payments"]["PM001"] = gc_payment("PM001", "paid_out")
    await deliver(client, [event("EV2", "payments", "paid_out", {"payment": "PM001"})])
    await deliver(client, [event("EV1", "payments", "submitted", {"payment": "PM001"})])
    await process_due_events(runtime)
    assert (await mirror_payment(connected.app, "PM001")).status == "paid_out"  # type: ignore[union-attr]
    # paid_out is not final: a late failure moves the payment on, and the mirror follows.
    providers.gocardless["payments"]["PM001"] = gc_payment("PM001", "charged_back")
    await deliver(client, [event("EV3", "payments", "charged_back", {"payment": "PM001"})])
    await process_due_events(runtime)
    payment = await mirror_payment(connected.app, "PM001")
    assert payment is not None and payment.status == "charged_back"
    assert payment.crm_state == "pending"


async def test_related_mandate_and_customer_are_fetched_once(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    for n in range(3):
        providers.gocardless["payments"][f"PM{n}"] = gc_payment(f"PM{n}")
    await deliver(
        client, [event(f"EV{n}", "payments", "created", {"payment": f"PM{n}"}) for n in range(3)]
    )
    await process_due_events(connected.app.state.runtime)
    assert providers.calls_to("/mandates/MD0001") == 1
    assert providers.calls_to("/customers/CU0001") == 1


async def test_failures_retry_then_park_then_replay(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    runtime = connected.app.state.runtime
    providers.router.routes["gocardless_read"].side_effect = None
    providers.router.routes["gocardless_read"].return_value = httpx.Response(
        500,
        json={
            "error": {
                "type": "gocardless",
                "code": 500,
                "message": "boom",
                "errors": [],
                "request_id": "r",
            }
        },
    )
    await deliver(client, [event("EV1", "payments", "confirmed", {"payment": "PM001"})])
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await process_due_events(runtime)
        async with runtime.sessionmaker() as session, session.begin():
            row = await session.scalar(select(InboxEvent))
            assert row is not None and row.attempts == attempt
            await session.execute(update(InboxEvent).values(next_attempt_at=datetime.now(UTC)))
    assert await statuses(connected.app) == ["failed"]
    assert row.last_error and "boom" in row.last_error
    status = await client.get("/api/v1/installation", headers=connected.installed.headers())
    assert status.json()["events"]["failed"] == 1
    # GoCardless recovers; an operator replays the parked event and it goes through.
    providers.router.routes["gocardless_read"].return_value = None
    providers.router.routes["gocardless_read"].side_effect = lambda request, kind, resource_id: (
        httpx.Response(
            200,
            json={
                kind: {
                    "payments": gc_payment("PM001", "confirmed"),
                    "mandates": gc_mandate(),
                    "customers": gc_customer(),
                }[kind]
            },
        )
    )
    assert await replay_failed(runtime) == 1
    await process_due_events(runtime)
    assert await statuses(connected.app) == ["processed"]


async def test_two_workers_process_each_event_once(
    client: httpx.AsyncClient, connected: Connected, providers: Providers, settings: Settings
) -> None:
    for n in range(60):
        providers.gocardless["payments"][f"PM{n:03}"] = gc_payment(f"PM{n:03}")
    await deliver(
        client,
        [event(f"EV{n:03}", "payments", "created", {"payment": f"PM{n:03}"}) for n in range(60)],
    )
    async with open_runtime(settings) as other:
        other.provider_sleep = connected.app.state.runtime.provider_sleep
        runtimes = [connected.app.state.runtime, other]
        handled = await asyncio.gather(
            *(process_due_events(r, limit=7) for r in runtimes for _ in range(5))
        )
        while await process_due_events(runtimes[0]):
            pass
    assert sum(handled) <= 60
    for n in range(60):
        assert providers.calls_to(f"/payments/PM{n:03}") == 1
    assert await statuses(connected.app) == ["processed"] * 60


async def test_disconnect_event_revokes_the_connection(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    disconnected = event(None, "organisations", "disconnected", {})
    await deliver(client, [disconnected])
    await deliver(client, [disconnected])  # no id: can't be deduplicated, and needn't be
    await process_due_events(connected.app.state.runtime)
    headers = connected.installed.headers()
    status = (await client.get("/api/v1/installation", headers=headers)).json()
    assert (
        status["gocardless"]["status"] == "revoked" and status["gocardless"]["connected"] is False
    )
    response = await client.post("/api/v1/installation/sync", headers=headers)
    assert response.status_code == 409
    assert response.json()["code"] == "gocardless_not_authorized"
    assert response.json()["authorize_url"].startswith("http://testserver/oauth/gocardless/start")


async def test_changes_reach_the_crm_after_sync(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    runtime = connected.app.state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            SyncRun(
                installation_id=connected.installed.installation_id,
                state="succeeded",
                stage="done",
                started_at=datetime.now(UTC),
            )
        )
    providers.gocardless["payments"]["PM001"] = gc_payment("PM001", "confirmed", amount=12345)
    providers.contacts["4150868000000300001"] = "JANE@example.com"
    await deliver(client, [event("EV1", "payments", "confirmed", {"payment": "PM001"})])
    await process_due_events(runtime)
    tally = await push_changes(runtime)
    assert tally.upserts == 2 and tally.synced == 2
    customer = providers.crm["GoCardless_Customers"]["CU0001"]
    payment = providers.crm["GoCardless_Payments"]["PM001"]
    assert customer["Name"] == "Jane Doe" and customer["Email"] == "jane@example.com"
    assert customer["Contact"] == {"id": "4150868000000300001"}
    assert payment["Amount"] == 123.45 and payment["Currency"] == "GBP"
    assert payment["Status"] == "confirmed" and payment["Customer"] == {"id": customer["id"]}
    # Nothing changed since: nothing more to push.
    assert (await push_changes(runtime)).upserts == 0


async def test_revoked_access_parks_nothing_and_resumes_after_reauthorization(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    runtime = connected.app.state.runtime
    providers.router.routes["gocardless_read"].side_effect = None
    providers.router.routes["gocardless_read"].return_value = httpx.Response(
        401,
        json={
            "error": {
                "type": "invalid_api_usage",
                "code": 401,
                "message": "Access token not active",
                "errors": [{"reason": "unauthorized", "message": "Access token not active"}],
                "request_id": "r",
            }
        },
    )
    await deliver(client, [event("EV1", "payments", "confirmed", {"payment": "PM001"})])
    await process_due_events(runtime)
    status = (
        await client.get("/api/v1/installation", headers=connected.installed.headers())
    ).json()
    assert status["gocardless"]["status"] == "revoked"
    async with runtime.sessionmaker() as session:
        row = await session.scalar(select(InboxEvent))
    assert row is not None and row.status == "pending" and row.attempts == 0
    assert row.next_attempt_at > datetime.now(UTC)
    # Nothing is fetched while access is revoked, however often the worker looks.
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(update(InboxEvent).values(next_attempt_at=datetime.now(UTC)))
    await process_due_events(runtime)
    assert providers.calls_to("/payments/PM001") == 1
    # The merchant authorizes again: the waiting event goes through.
    providers.router.routes["gocardless_read"].return_value = None
    providers.router.routes["gocardless_read"].side_effect = lambda request, kind, resource_id: (
        httpx.Response(
            200,
            json={
                kind: {
                    "payments": gc_payment("PM001", "confirmed"),
                    "mandates": gc_mandate(),
                    "customers": gc_customer(),
                }[kind]
            },
        )
    )
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(update(GoCardlessConnection).values(status="connected"))
        await session.execute(update(InboxEvent).values(next_attempt_at=datetime.now(UTC)))
    await process_due_events(runtime)
    assert await statuses(connected.app) == ["processed"]


async def test_a_backlog_is_refreshed_from_pages_of_events(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    events = []
    for n in range(12):
        providers.gocardless["payments"][f"PM{n}"] = gc_payment(f"PM{n}", "confirmed")
        events.append(event(f"EV{n:03}", "payments", "confirmed", {"payment": f"PM{n}"}))
    providers.events.extend(events)
    await deliver(client, events)
    assert await process_due_events(connected.app.state.runtime) == 12
    assert providers.calls_to("/events") == 1
    assert providers.calls_to("/payments/") == 0
    # The mandate the payments point at is new to us: fetched once, with its customer.
    assert providers.calls_to("/mandates/MD0001") == 1
    assert await statuses(connected.app) == ["processed"] * 12
    assert {(await mirror_payment(connected.app, f"PM{n}")).status for n in range(12)} == {  # type: ignore[union-attr]
        "confirmed"
    }
