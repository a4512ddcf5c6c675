"""Background work gives way to a busy webhook receiver, and only to a busy one."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from app.adapters.gocardless.models import Event
from app.jobs import receiver_load
from app.jobs.lanes import LaneKind, run_lanes
from app.jobs.receiver_load import (
    MAX_REST_SECONDS,
    rest_after,
    watch_receiver,
    webhooks_per_second,
)
from app.services.inbox import enqueue_events
from tests.sync.conftest import Connected, event, webhook


async def _post(client: httpx.AsyncClient, first: int, webhooks: int, events_each: int) -> None:
    for n in range(webhooks):
        batch = [
            event(f"EV{first + n:04d}{i:03d}", "payments", "confirmed", {"payment": f"PM{i}"})
            for i in range(events_each)
        ]
        body, headers = webhook(batch)
        response = await client.post("/webhooks/gocardless", content=body, headers=headers)
        assert response.status_code == 204


async def _pin_clock_after_the_last_webhook(connected: Connected) -> None:
    """The window ends just after the newest arrival, however long the test took."""
    runtime = connected.app.state.runtime
    async with runtime.engine.connect() as connection:
        newest = (
            await connection.execute(text("SELECT max(next_attempt_at) FROM gc_events"))
        ).scalar_one()
    if newest is not None:
        runtime.clock = lambda: newest + timedelta(milliseconds=1)


async def test_the_rate_counts_webhooks_not_events(
    client: httpx.AsyncClient, connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = connected.app.state.runtime
    # A window long enough for a slow machine to post all five webhooks in it.
    monkeypatch.setattr(receiver_load, "WINDOW", timedelta(seconds=60))
    await _pin_clock_after_the_last_webhook(connected)
    assert await webhooks_per_second(runtime) == 0
    await _post(client, 0, webhooks=3, events_each=1)
    await _post(client, 100, webhooks=2, events_each=50)
    await _pin_clock_after_the_last_webhook(connected)
    # Five webhooks in the last window, however many events they carried.
    assert await webhooks_per_second(runtime) == 5 / 60
    # Events the catch-up job stores (each with a time of its own) are no webhooks.
    listed = [
        Event.model_validate(event(f"EVCU{i:03d}", "payments", "confirmed", {"payment": "PM1"}))
        for i in range(20)
    ]
    async with runtime.sessionmaker() as session, session.begin():
        await enqueue_events(session, connected.installed.installation_id, listed, "catch_up")
    await _pin_clock_after_the_last_webhook(connected)
    assert await webhooks_per_second(runtime) == 5 / 60


async def test_lanes_rest_only_while_the_receiver_is_busy(
    client: httpx.AsyncClient, connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = connected.app.state.runtime
    # One webhook in ten seconds is calm, five are busy: whatever the machine's speed.
    monkeypatch.setattr(receiver_load, "WINDOW", timedelta(seconds=10))
    runtime.settings = runtime.settings.model_copy(
        update={"worker_yield_above_webhooks_per_second": 0.3}
    )
    await _post(client, 0, webhooks=1, events_each=10)
    await _pin_clock_after_the_last_webhook(connected)
    await watch_receiver(runtime)
    assert not runtime.receiver_busy
    assert rest_after(runtime, 0.2) == 0.0
    await _post(client, 100, webhooks=4, events_each=1)
    await _pin_clock_after_the_last_webhook(connected)
    await watch_receiver(runtime)
    assert runtime.receiver_busy
    assert rest_after(runtime, 0.05) == pytest.approx(0.45)  # nine times the step
    assert rest_after(runtime, 10.0) == MAX_REST_SECONDS


@pytest.mark.parametrize(("busy", "peak_wanted"), [(True, 1), (False, 3)], ids=["busy", "idle"])
async def test_a_busy_receiver_leaves_the_worker_one_step_at_a_time(
    connected: Connected, busy: bool, peak_wanted: int
) -> None:
    """Three merchants' lanes: one step at a time in the whole worker while the receiver is
    busy (ten merchants resting in turn still took half the cores), all at once otherwise."""
    runtime = connected.app.state.runtime
    runtime.receiver_busy = busy
    installations = [uuid.uuid4() for _ in range(3)]
    steps: Counter[uuid.UUID] = Counter()
    in_step = peak = 0

    async def due(_runtime: object) -> list[uuid.UUID]:
        return [i for i in installations if steps[i] < 3]

    async def step(_runtime: object, installation_id: uuid.UUID) -> bool:
        nonlocal in_step, peak
        in_step += 1
        peak = max(peak, in_step)
        await asyncio.sleep(0.01)
        in_step -= 1
        steps[installation_id] += 1
        return steps[installation_id] < 3

    lanes = asyncio.create_task(
        run_lanes(runtime, LaneKind("test", due, step), limit=3, poll_seconds=0.01)
    )
    async with asyncio.timeout(10):
        while sum(steps.values()) < 9:
            await asyncio.sleep(0.01)
    runtime.stopping.set()
    await lanes
    assert peak == peak_wanted
