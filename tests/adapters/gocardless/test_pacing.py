from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from app.adapters.gocardless import (
    GoCardlessClient,
    GoCardlessRateLimited,
    PacerRegistry,
    RatePacer,
)
from app.deadlines import budget_waits_excluded
from tests.adapters.gocardless.conftest import (
    API,
    FakeClock,
    RecordedSleep,
    fixture_body,
    fixture_json,
)


def _pacer(clock: FakeClock, **limits: float) -> RatePacer:
    settings = {"rate_per_minute": 130, "burst": 10, "background_reserve": 0.2} | limits
    return RatePacer(
        rate_per_minute=int(settings["rate_per_minute"]),
        burst=int(settings["burst"]),
        background_reserve=settings["background_reserve"],
        clock=clock,
        sleep=clock.sleep,
    )


async def test_a_burst_passes_then_calls_are_spaced() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)  # refills (130 - 10) / 60 = 2 calls a second
    for _ in range(10):
        await pacer.acquire()
    assert clock.waits == []
    await pacer.acquire()
    await pacer.acquire()
    assert clock.now == pytest.approx(1.0)


async def test_a_minute_never_exceeds_the_rate() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    calls = 0
    while clock.now < 60:
        await pacer.acquire()
        calls += 1
    # The call that crossed 60 s is outside the first minute.
    assert calls - 1 <= 130


async def test_background_leaves_a_reserve_for_interactive_calls() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    for _ in range(8):  # 10 tokens, 20 % (2) kept back
        await pacer.acquire("background")
    assert clock.waits == []
    await pacer.acquire("interactive")
    await pacer.acquire("interactive")
    assert clock.waits == []
    await pacer.acquire("background")
    # Needs 1 + 2 tokens from empty at 2 tokens a second.
    assert clock.now == pytest.approx(1.5)


async def test_the_server_count_stops_interactive_calls_at_zero() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.observe(remaining=2, limit=1000, reset_in=5)
    await pacer.acquire()
    await pacer.acquire()
    assert clock.waits == []
    await pacer.acquire()
    assert clock.now == pytest.approx(5.0)


async def test_background_stops_at_the_servers_reserve() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.observe(remaining=200, limit=1000, reset_in=7)
    await pacer.acquire("interactive")
    assert clock.waits == []
    await pacer.acquire("background")
    assert clock.now == pytest.approx(7.0)


async def test_a_skewed_reset_waits_at_most_one_window() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.observe(remaining=0, limit=1000, reset_in=3600)
    await pacer.acquire()
    assert clock.now == pytest.approx(60.0)


@pytest.mark.parametrize(("remaining", "reset_in"), [(None, 5.0), (0, None), (0, 0.0), (0, -3.0)])
async def test_incomplete_or_stale_headers_are_ignored(
    remaining: int | None, reset_in: float | None
) -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.observe(remaining=remaining, limit=1000, reset_in=reset_in)
    await pacer.acquire()
    assert clock.waits == []


@pytest.mark.parametrize(
    "limits",
    [{"burst": 0}, {"burst": 5000}, {"background_reserve": 1.0}, {"background_reserve": -0.1}],
)
def test_bad_limits_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        _pacer(FakeClock(), **limits)
    with pytest.raises(ValueError):
        PacerRegistry(**limits)  # type: ignore[arg-type]


def test_registry_shares_one_pacer_per_organisation() -> None:
    registry = PacerRegistry()
    first = registry.for_organisation("OR1")
    assert registry.for_organisation("OR1") is first
    assert registry.for_organisation("OR2") is not first
    registry.forget("OR1")
    assert registry.for_organisation("OR1") is not first


async def test_a_huge_rate_makes_the_pacer_instant() -> None:
    sleeps = RecordedSleep()
    pacer = PacerRegistry(rate_per_minute=10**9, burst=10**6, sleep=sleeps).for_organisation("OR1")
    for _ in range(1000):
        await pacer.acquire("background")
    assert sleeps.waits == []


async def test_clients_feed_response_headers_to_their_pacer(
    http: httpx.AsyncClient, api: respx.MockRouter
) -> None:
    clock = FakeClock()
    registry = PacerRegistry(clock=clock, sleep=clock.sleep)
    pacer = registry.for_organisation("OR1")
    interactive = GoCardlessClient(http, api_url=API, access_token="t", pacer=pacer)
    background = GoCardlessClient(
        http, api_url=API, access_token="t", pacer=pacer, priority="background"
    )
    reset = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    api.get("/payments/PM123").respond(
        200,
        json=fixture_body("payments", "get"),
        headers={"RateLimit-Limit": "1000", "RateLimit-Remaining": "150", "RateLimit-Reset": reset},
    )
    await background.get_payment("PM123")
    await interactive.get_payment("PM123")
    assert clock.waits == []
    await background.get_payment("PM123")  # under the 20 % reserve: waits for the window
    [wait] = clock.waits
    assert 8.5 <= wait <= 10.1


async def test_a_429_empties_the_shared_budget(
    http: httpx.AsyncClient, api: respx.MockRouter
) -> None:
    clock = FakeClock()
    pacer = RatePacer(clock=clock, sleep=clock.sleep)
    client = GoCardlessClient(http, api_url=API, access_token="t", pacer=pacer, sleep=clock.sleep)
    reset = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    api.post("/payments/PM1/actions/cancel").respond(
        429, json=fixture_json("rate_limit_exceeded.json"), headers={"RateLimit-Reset": reset}
    )
    api.get("/payments/PM123").respond(200, json=fixture_body("payments", "get"))
    with pytest.raises(GoCardlessRateLimited):
        await client.cancel_payment("PM1")
    await client.get_payment("PM123")
    [wait] = clock.waits
    assert 18.5 <= wait <= 20.1


async def test_a_budget_wait_holds_the_callers_deadline_still() -> None:
    """An event's timeout bounds its own work, not its wait for a budget the merchant's other
    use of the token has spent: the deadline stands still while the pacer waits."""
    clock = FakeClock()
    seen: list[float | None] = []

    async def sleep(seconds: float) -> None:
        seen.append(deadline.when())
        await clock.sleep(seconds)

    pacer = RatePacer(
        rate_per_minute=130, burst=10, background_reserve=0.2, clock=clock, sleep=sleep
    )
    # The server says 5 requests are left in its window, below the background reserve (26).
    pacer.observe(remaining=5, limit=130, reset_in=40.0)
    async with asyncio.timeout(20.0) as deadline:
        with budget_waits_excluded(deadline):
            before = deadline.when()
            await pacer.acquire("background")
            after = deadline.when()
    assert clock.waits == [40.0]
    assert seen == [None]  # no deadline while waiting
    assert before is not None and after is not None and after >= before


async def test_without_an_excluding_deadline_a_wait_counts_as_before() -> None:
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.observe(remaining=5, limit=130, reset_in=40.0)
    async with asyncio.timeout(20.0) as deadline:
        before = deadline.when()
        await pacer.acquire("background")
        assert deadline.when() == before
