"""Inbox claims die with their owner, a failure or a stop gives them back, one slow resource
holds up nothing else, and any process's /metrics shows the inbox from the database."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.adapters.gocardless.models import Event
from app.jobs import worker
from app.runtime import Runtime
from app.services.events import process_due_events
from app.services.events.claims import claim
from app.services.events.refresh import Refresher
from app.services.ownership import Owner
from tests.sync.conftest import Connected, Providers, event, gc_payment, webhook


async def deliver(
    client: httpx.AsyncClient, runtime: Runtime, count: int, providers: Providers
) -> None:
    for n in range(count):
        providers.gocardless["payments"][f"PM{n:03}"] = gc_payment(f"PM{n:03}")
    body, headers = webhook(
        [event(f"EV{n:03}", "payments", "created", {"payment": f"PM{n:03}"}) for n in range(count)]
    )
    response = await client.post("/webhooks/gocardless", content=body, headers=headers)
    assert response.status_code == 204
    assert await rows(runtime, "status = 'pending'") == count


async def rows(runtime: Runtime, where: str) -> int:
    async with runtime.engine.connect() as connection:
        return int(
            (
                await connection.execute(text(f"SELECT count(*) FROM gc_events WHERE {where}"))
            ).scalar_one()
        )


@asynccontextmanager
async def another_worker(runtime: Runtime) -> AsyncIterator[Runtime]:
    """A second process's identity on the same database (its owner lock on its own link)."""
    unpooled = create_async_engine(runtime.engine.url, poolclass=NullPool)
    other = dataclasses.replace(runtime, owner=Owner(unpooled))
    try:
        yield other
    finally:
        await other.owner.close()
        await unpooled.dispose()


async def test_a_dead_workers_claims_are_taken_over_at_once(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    runtime = connected.app.state.runtime
    await deliver(client, connected.app.state.runtime, 5, providers)
    async with another_worker(runtime) as crashed:
        assert len(await claim(crashed, 100)) == 5
        # While it lives, its events are its own, however long it takes.
        assert await process_due_events(runtime) == 0
    # kill -9 closes its connection, and PostgreSQL its lock: no expiry to wait for.
    assert await process_due_events(runtime) == 5
    assert await rows(runtime, "status = 'processed'") == 5


async def test_a_database_error_gives_the_claims_back(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    runtime = connected.app.state.runtime
    await deliver(client, connected.app.state.runtime, 3, providers)
    async with runtime.engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION refuse_payment() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'the database refused'; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER refuse_payment BEFORE INSERT ON gc_payments "
                "FOR EACH ROW EXECUTE FUNCTION refuse_payment()"
            )
        )
    assert await process_due_events(runtime) == 3
    # Not stranded with this (live) process: due again at once, attempts untouched.
    assert await rows(runtime, "status = 'pending' AND claimed_by IS NULL AND attempts = 0") == 3
    async with runtime.engine.begin() as connection:
        await connection.execute(text("DROP TRIGGER refuse_payment ON gc_payments"))
        await connection.execute(text("DROP FUNCTION refuse_payment()"))
    assert await process_due_events(runtime) == 3
    assert await rows(runtime, "status = 'processed'") == 3


async def test_one_hung_resource_holds_up_nothing_else(
    client: httpx.AsyncClient,
    connected: Connected,
    providers: Providers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = connected.app.state.runtime
    runtime = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"event_timeout_seconds": 3.0})
    )
    await deliver(client, connected.app.state.runtime, 6, providers)
    refresh = Refresher.refresh_payment

    async def hangs_on_pm000(self: Refresher, payment_id: str, events: Sequence[Event]) -> None:
        if payment_id == "PM000":
            await asyncio.Event().wait()  # a call that never answers
        await refresh(self, payment_id, events)

    monkeypatch.setattr(Refresher, "refresh_payment", hangs_on_pm000)
    assert await process_due_events(runtime) == 6
    assert await rows(runtime, "status = 'processed'") == 5
    # It used an attempt and waits its turn; after the last one it is parked.
    assert await rows(runtime, "event_id = 'EV000' AND status = 'pending' AND attempts = 1") == 1
    assert await rows(runtime, "last_error LIKE 'timed out%' AND claimed_by IS NULL") == 1


async def test_stopping_leaves_nothing_claimed(
    client: httpx.AsyncClient,
    connected: Connected,
    providers: Providers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime: Runtime = connected.app.state.runtime
    await deliver(client, connected.app.state.runtime, 40, providers)
    started = asyncio.Event()

    async def never_answers(self: Refresher, payment_id: str, events: Sequence[Event]) -> None:
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(Refresher, "refresh_payment", never_answers)
    monkeypatch.setattr(worker, "STOP_GRACE_SECONDS", 0.2)
    running = asyncio.create_task(worker.run_worker(runtime))
    await asyncio.wait_for(started.wait(), timeout=10)
    assert await rows(runtime, "claimed_by IS NOT NULL") == 40
    runtime.stopping.set()
    # Cancelled past the grace, whatever it was waiting for; everything handed back.
    await asyncio.wait_for(running, timeout=10)
    assert await rows(runtime, "claimed_by IS NOT NULL") == 0
    assert await rows(runtime, "status = 'pending' AND attempts = 0") == 40


async def test_metrics_show_the_inbox_without_a_worker_here(
    client: httpx.AsyncClient, connected: Connected, providers: Providers
) -> None:
    await deliver(client, connected.app.state.runtime, 4, providers)
    scraped = (await client.get("/metrics")).text
    assert 'gocardless_inbox_depth{status="pending"} 4.0' in scraped
    assert 'gocardless_inbox_depth{status="failed"} 0.0' in scraped
    assert "gocardless_inbox_oldest_pending_seconds" in scraped
    assert "gocardless_inbox_claimed 0.0" in scraped
