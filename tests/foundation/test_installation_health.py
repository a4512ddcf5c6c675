"""The operator's per-installation health: lag, backlog, parked events and budgets left, the
same from every process because it is read from the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from app.adapters.gocardless.pacing import DEFAULT_BURST
from app.models import GcPayment, InboxEvent
from tests.foundation.conftest import (
    ADMIN_HEADERS,
    connect_gocardless,
    connect_zoho,
    install,
)


async def _inbox(
    app: FastAPI, installation_id: uuid.UUID, status: str, age: timedelta, n: int
) -> None:
    now = datetime.now(UTC)
    async with app.state.runtime.sessionmaker() as session, session.begin():
        for i in range(n):
            session.add(
                InboxEvent(
                    installation_id=installation_id,
                    event_id=f"EV{status}{i}{age.seconds}",
                    resource_type="payments",
                    action="confirmed",
                    resource_id=f"PM{i}",
                    payload={},
                    source="webhook",
                    status=status,
                    next_attempt_at=now,
                    created_at=now - age,
                )
            )


async def test_each_installation_reports_its_lag_backlog_and_budgets(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    busy = await install(client, org_id="600001")
    quiet = await install(client, org_id="600002")
    await connect_gocardless(app, busy, organisation_id="OR000001")
    await connect_zoho(app, busy, org_id="600001")
    await _inbox(app, busy.installation_id, "pending", timedelta(minutes=5), 3)
    await _inbox(app, busy.installation_id, "pending", timedelta(seconds=1), 2)
    await _inbox(app, busy.installation_id, "failed", timedelta(hours=1), 1)
    async with app.state.runtime.sessionmaker() as session, session.begin():
        session.add(
            GcPayment(
                installation_id=busy.installation_id,
                id="PM9",
                amount=100,
                currency="GBP",
                status="confirmed",
                gc_metadata={},
                fetched_at=datetime.now(UTC),
            )
        )
    runtime = app.state.runtime
    for _ in range(7):
        await runtime.gocardless_pacers.for_organisation("OR000001").acquire()
    async with runtime.zoho_limiters.for_org("600001"):
        answer = await client.get("/api/v1/operations/installations", headers=ADMIN_HEADERS)
    assert answer.status_code == 200, answer.text
    report = {h["zoho_org_id"]: h for h in answer.json()["installations"]}
    lagging = report["600001"]
    assert lagging["status"] == "lagging"
    assert (lagging["pending_events"], lagging["parked_events"]) == (5, 1)
    assert 290 < lagging["lag_seconds"] < 900
    assert lagging["crm_backlog"] == 1
    # Seven taken from a full burst (and up to four more taken ahead, unspent), refilled by
    # about 12 a second since.
    assert DEFAULT_BURST - 7 - 4 <= lagging["gocardless_requests_left"] < DEFAULT_BURST
    assert lagging["zoho_slots_left"] == runtime.settings.zoho_concurrency - 1
    assert report["600002"] == {
        "installation_id": str(quiet.installation_id),
        "zoho_org_id": "600002",
        "status": "ok",
        "pending_events": 0,
        "parked_events": 0,
        "lag_seconds": 0.0,
        "crm_backlog": 0,
        "gocardless_requests_left": None,
        "zoho_slots_left": None,
    }

    metrics = (await client.get("/metrics")).text
    label = f'installation_id="{busy.installation_id}"'
    assert f"installation_events_pending{{{label}}} 5.0" in metrics
    assert f"installation_events_parked{{{label}}} 1.0" in metrics
    assert f"installation_crm_backlog{{{label}}} 1.0" in metrics
    assert f"installation_gocardless_requests_left{{{label}}}" in metrics


async def test_the_health_view_is_for_the_operator_only(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/operations/installations")
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"
