"""Budgets kept in PostgreSQL: one GoCardless token bucket and one set of Zoho call slots for
every process. Two `AdvisorySlots` stand for two processes (each has its own connection)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.gocardless.pacing import BucketShape, LocalBucket, PacerRegistry
from app.adapters.zoho.limits import OrgLimiters, Priority
from app.services.budgets import (
    MAX_HANDOFFS,
    AdvisorySlots,
    DatabaseBucket,
    SharedOrgLimiters,
    shared_budgets,
)

# Refilled so slowly that the few milliseconds a test takes cannot add a token.
SLOW = BucketShape(capacity=5, refill_per_second=0.001)


def FROZEN() -> float:
    return 0.0


async def test_the_bucket_is_one_budget_for_every_holder(clean_db: AsyncEngine) -> None:
    # Two buckets over one key are two processes drawing from one organisation's budget.
    first = DatabaseBucket(clean_db, "gocardless:OR1", SLOW, FROZEN)
    second = DatabaseBucket(clean_db, "gocardless:OR1", SLOW, FROZEN)
    assert await second.take(1.0) == 0.0  # takes five ahead: one now, four to spend
    assert await first.take(1.0) == pytest.approx(1000, rel=0.01)
    assert [await second.take(1.0) for _ in range(4)] == [0.0] * 4
    assert await second.take(1.0) == pytest.approx(1000, rel=0.01)
    level = await first.level()
    assert level is not None and level < 1
    # Another organisation has a budget of its own.
    assert await DatabaseBucket(clean_db, "gocardless:OR2", SLOW, FROZEN).take(1.0) == 0.0


async def test_tokens_taken_ahead_expire_unspent(clean_db: AsyncEngine) -> None:
    now = [0.0]
    bucket = DatabaseBucket(clean_db, "gocardless:OR1", SLOW, lambda: now[0])
    assert await bucket.take(1.0) == 0.0
    now[0] = 1.5  # a second and a half later the four left are stale, and lost
    assert await bucket.take(1.0) > 0


async def test_background_calls_leave_the_reserve_to_interactive_ones(
    clean_db: AsyncEngine,
) -> None:
    bucket = DatabaseBucket(clean_db, "gocardless:OR1", SLOW, FROZEN)
    taken = 0
    while await bucket.take(3.0) == 0.0:  # needs 3 tokens there to take 1
        taken += 1
    assert taken == 3
    assert [await bucket.take(1.0) for _ in range(2)] == [0.0, 0.0]
    assert await bucket.take(1.0) > 0


async def test_the_pacer_waits_for_the_shared_bucket(clean_db: AsyncEngine) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        raise asyncio.CancelledError  # one wait is enough to see it

    pacers = PacerRegistry(
        rate_per_minute=65,
        burst=5,
        sleep=sleep,
        bucket_for=lambda org, _shape: DatabaseBucket(clean_db, f"gocardless:{org}", SLOW, FROZEN),
    )
    for _ in range(5):
        await pacers.for_organisation("OR1").acquire()
    with pytest.raises(asyncio.CancelledError):
        await pacers.for_organisation("OR1").acquire()
    assert slept == [pytest.approx(1000, rel=0.01)]


@pytest.fixture
async def two_processes(clean_db: AsyncEngine) -> AsyncIterator[tuple[AdvisorySlots, ...]]:
    slots = (AdvisorySlots(clean_db), AdvisorySlots(clean_db))
    yield slots
    for one in slots:
        await one.aclose()


async def test_an_orgs_calls_in_flight_are_capped_across_processes(
    two_processes: tuple[AdvisorySlots, AdvisorySlots],
) -> None:
    here, there = (SharedOrgLimiters(slots, limit=2) for slots in two_processes)
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def call(limiters: SharedOrgLimiters) -> None:
        nonlocal in_flight, peak
        async with limiters.for_org("600"):
            in_flight += 1
            peak = max(peak, in_flight)
            await release.wait()
            in_flight -= 1

    calls = [asyncio.create_task(call(limiters)) for limiters in (here, there) * 3]
    while in_flight < 2:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # time enough for a third call to get in, were it allowed
    assert (in_flight, peak) == (2, 2)
    # Another org is not held up by this one's calls.
    async with asyncio.timeout(5), there.for_org("700"):
        pass
    release.set()
    async with asyncio.timeout(10):
        await asyncio.gather(*calls)
    assert peak == 2


async def test_a_dead_process_gives_its_slots_back(
    two_processes: tuple[AdvisorySlots, AdvisorySlots],
) -> None:
    crashed, alive = two_processes
    holder = SharedOrgLimiters(crashed, limit=1).for_org("600")
    await holder.__aenter__()
    waiting = asyncio.create_task(_one_call(SharedOrgLimiters(alive, limit=1)))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await crashed.aclose()  # its connection ends, as when the process dies
    async with asyncio.timeout(5):
        await waiting


async def test_a_cancelled_wait_leaves_no_slot_behind(
    two_processes: tuple[AdvisorySlots, AdvisorySlots],
) -> None:
    first, second = two_processes
    limiters = SharedOrgLimiters(first, limit=1)
    async with limiters.for_org("600"):
        waiting = asyncio.create_task(_one_call(SharedOrgLimiters(second, limit=1)))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    async with asyncio.timeout(5):
        await _one_call(SharedOrgLimiters(second, limit=1))
        await _one_call(limiters)


async def _one_call(limiters: SharedOrgLimiters) -> None:
    async with limiters.for_org("600"):
        pass


async def test_sqlite_keeps_the_budgets_in_process(tmp_path: object) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    budgets = shared_budgets(engine, rate_per_minute=1000, zoho_concurrency=10)
    assert isinstance(budgets.zoho, OrgLimiters) and budgets.engine is None
    assert isinstance(budgets.gocardless.for_organisation("OR1")._bucket, LocalBucket)
    await budgets.aclose()
    await engine.dispose()


async def test_counting_a_call_needs_no_second_connection_from_the_requests_pool(
    clean_db: AsyncEngine,
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    # A request holds the pool's only connection while it calls the providers.
    requests_pool = create_async_engine(clean_db.url, pool_size=1, max_overflow=0, pool_timeout=1)
    budgets = shared_budgets(requests_pool, rate_per_minute=1000, zoho_concurrency=2)
    try:
        async with requests_pool.connect(), asyncio.timeout(10):
            await budgets.gocardless.for_organisation("OR1").acquire()
            async with budgets.zoho.for_org("600"):
                pass
    finally:
        await budgets.aclose()
        await requests_pool.dispose()


@pytest.mark.parametrize("shared", [True, False], ids=["across processes", "in process"])
async def test_background_calls_leave_zoho_slots_to_interactive_ones(
    two_processes: tuple[AdvisorySlots, AdvisorySlots], shared: bool
) -> None:
    registries: tuple[SharedOrgLimiters | OrgLimiters, ...] = (
        tuple(SharedOrgLimiters(slots, limit=10) for slots in two_processes)
        if shared
        else (OrgLimiters(10),) * 2
    )
    in_flight: Counter[str] = Counter()
    release = asyncio.Event()

    async def call(limiters: SharedOrgLimiters | OrgLimiters, priority: Priority) -> None:
        async with limiters.for_org("600", priority):
            in_flight[priority] += 1
            await release.wait()
            in_flight[priority] -= 1

    async def reached(priority: Priority, count: int) -> None:
        async with asyncio.timeout(5):
            while in_flight[priority] < count:
                await asyncio.sleep(0.01)

    # A backlog of twelve background calls: eight go out, two slots stay free.
    calls = [asyncio.create_task(call(registries[n % 2], "background")) for n in range(12)]
    await reached("background", 8)
    await asyncio.sleep(0.2)  # time enough for a ninth to get in, were it allowed
    assert in_flight["background"] == 8
    # The widget's calls do not queue behind them.
    calls += [asyncio.create_task(call(registries[n % 2], "interactive")) for n in range(2)]
    await reached("interactive", 2)
    assert sum(in_flight.values()) == 10
    release.set()
    async with asyncio.timeout(10):
        await asyncio.gather(*calls)


async def _advisory_locks(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                # Zoho slots: two-key locks numbered from 0, in this test's database only.
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objsubid = 2 AND objid < 100 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        return int(found.scalar_one())


async def test_a_burst_hands_slots_over_without_a_lock_each(
    two_processes: tuple[AdvisorySlots, AdvisorySlots], clean_db: AsyncEngine
) -> None:
    here, there = two_processes
    taken = 0
    take = here.take

    async def counted(key: int, slots: range) -> int:
        nonlocal taken
        taken += 1
        return await take(key, slots)

    here.take = counted  # type: ignore[method-assign]
    limiters = SharedOrgLimiters(here, limit=2)
    in_flight = peak = 0

    async def call() -> None:
        nonlocal in_flight, peak
        async with limiters.for_org("600"):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.005)
            in_flight -= 1

    async with asyncio.timeout(10):
        await asyncio.gather(*(call() for _ in range(40)))
    assert peak == 2
    # 40 calls through 2 slots: a slot is locked again only after MAX_HANDOFFS calls.
    assert taken <= 2 * (40 // (MAX_HANDOFFS + 1) + 1)
    # Nothing stays locked once the burst is over: the other process gets both slots.
    assert await _advisory_locks(clean_db) == 0
    other = SharedOrgLimiters(there, limit=2).for_org("600")
    async with asyncio.timeout(5), other, SharedOrgLimiters(there, limit=2).for_org("600"):
        pass


async def test_a_slot_handed_to_a_cancelled_waiter_is_unlocked(
    two_processes: tuple[AdvisorySlots, AdvisorySlots], clean_db: AsyncEngine
) -> None:
    here, _ = two_processes
    limiters = SharedOrgLimiters(here, limit=1)
    release = asyncio.Event()

    async def holder() -> None:
        async with limiters.for_org("600"):
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(_one_call(limiters))
    await asyncio.sleep(0.05)
    release.set()
    await first  # its slot is handed to the waiter, still locked...
    waiting.cancel()  # ...and the waiter is cancelled before it runs
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    async with asyncio.timeout(5):
        while await _advisory_locks(clean_db):
            await asyncio.sleep(0.01)
        await _one_call(limiters)


async def test_a_slot_already_held_is_not_locked_twice(
    two_processes: tuple[AdvisorySlots, AdvisorySlots], clean_db: AsyncEngine
) -> None:
    # PostgreSQL may try a WHERE clause's lock before its "not one of ours" test: a slot of
    # ours locked a second time would stay locked after its one unlock.
    # It showed once PostgreSQL planned the statement generically, after its fifth run.
    here, _ = two_processes
    for _ in range(10):
        first = await here.take(1, range(1, -1, -1))
        second = await here.take(1, range(1, -1, -1))
        assert {first, second} == {0, 1}
        await here.give_back(1, first)
        await here.give_back(1, second)
        assert await _advisory_locks(clean_db) == 0


async def test_locks_and_unlocks_asked_for_together_share_a_round_trip(
    two_processes: tuple[AdvisorySlots, AdvisorySlots], clean_db: AsyncEngine
) -> None:
    # The slots' one connection runs a query at a time: one each, a burst of widget calls
    # queued on it behind the busy event loop.
    here, _ = two_processes
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(clean_db.sync_engine, "before_cursor_execute", count)
    try:
        slots = await asyncio.gather(*(here.take(1, range(19, -1, -1)) for _ in range(20)))
        assert sorted(slots) == list(range(20))
        assert len(statements) <= 3
        assert await _advisory_locks(clean_db) == 20
        statements.clear()
        await asyncio.gather(*(here.give_back(1, slot) for slot in slots))
        assert len(statements) <= 3
    finally:
        event.remove(clean_db.sync_engine, "before_cursor_execute", count)
    assert await _advisory_locks(clean_db) == 0


async def test_a_lost_slots_connection_is_replaced_and_its_slots_forgotten(
    two_processes: tuple[AdvisorySlots, AdvisorySlots], clean_db: AsyncEngine
) -> None:
    here, _ = two_processes
    old = await here.take(1, range(1, -1, -1))
    async with clean_db.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = 1 AND objsubid = 2 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    # The batch that finds the connection gone fails its callers; the next one reconnects.
    with pytest.raises((DBAPIError, InterfaceError, OSError)):
        async with asyncio.timeout(5):
            await here.take(1, range(1, -1, -1))
    async with asyncio.timeout(5):
        new = await here.take(1, range(1, -1, -1))
    # The old slot went with the old connection: it was free again, and is not skipped.
    assert new == old == 1
    assert await _advisory_locks(clean_db) == 1
    await here.give_back(1, new)
    assert await _advisory_locks(clean_db) == 0
