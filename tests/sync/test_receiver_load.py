"""Background work gives way to a busy webhook receiver, and only to a busy one."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import text

from app.adapters.gocardless.models import Event
from app.jobs.receiver_load import MAX_REST_SECONDS, rest_after, watch_receiver, webhooks_per_second
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
    client: httpx.AsyncClient, connected: Connected
) -> None:
    runtime = connected.app.state.runtime
    await _pin_clock_after_the_last_webhook(connected)
    assert await webhooks_per_second(runtime) == 0
    await _post(client, 0, webhooks=3, events_each=1)
    await _post(client, 100, webhooks=2, events_each=50)
    await _pin_clock_after_the_last_webhook(connected)
    # Five webhooks in the last two seconds, however many events they carried.
    assert await webhooks_per_second(runtime) == 2.5
    # Events the catch-up job stores (each with a time of its own) are no webhooks.
    listed = [
        Event.model_validate(event(f"EVCU{i:03d}", "payments", "confirmed", {"payment": "PM1"}))
        for i in range(20)
    ]
    async with runtime.sessionmaker() as session, session.begin():
        await enqueue_events(session, connected.installed.installation_id, listed, "catch_up")
    await _pin_clock_after_the_last_webhook(connected)
    assert await webhooks_per_second(runtime) == 2.5


async def test_lanes_rest_only_while_the_receiver_is_busy(
    client: httpx.AsyncClient, connected: Connected
) -> None:
    runtime = connected.app.state.runtime
    runtime.settings = runtime.settings.model_copy(
        update={"worker_yield_above_webhooks_per_second": 1.0}
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
    assert rest_after(runtime, 0.05) == 0.2  # four times the step
    assert rest_after(runtime, 10.0) == MAX_REST_SECONDS
