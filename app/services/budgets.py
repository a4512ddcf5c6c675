"""Provider budgets that hold across every process sharing the database.

GoCardless allows a merchant's token about 1000 requests a minute and Zoho an org about 10
calls in flight: limits of the merchant, not of one of our processes. With `serve` and N
`worker` processes each pacing itself, together they would overrun both. So the budgets live
in PostgreSQL, which every process already shares:

- GoCardless: a token bucket per organisation, one row of `rate_budgets` taken from by an
  atomic upsert (one round trip per few requests while the budget is plentiful);
- Zoho: `limit` slots per org, each a session-level advisory lock held on one connection per
  process while a call is on the wire. PostgreSQL drops a dead process's locks with its
  connection, so a crash never leaks a slot.

The adapters know nothing of this: they take a `TokenBucket` and an async context manager.
SQLite (the single-process demo) keeps the in-process budgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import zlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.adapters.gocardless.pacing import BucketShape, PacerRegistry
from app.adapters.zoho.limits import LimiterRegistry, OrgLimiters, Priority, interactive_reserve
from app.log import get_logger

log = get_logger(__name__)

T = TypeVar("T")

# `now()` is the statement's start: a writer that queued on the row lock sees an earlier
# moment than the one before it and is credited less, never more, so the sum stays exact.
_TAKE = text(
    """
    UPDATE rate_budgets AS b SET
        tokens = least(CAST(:capacity AS float8),
                       b.tokens + extract(epoch FROM now() - b.refilled_at)
                                  * CAST(:refill AS float8)) - CAST(:take AS float8),
        refilled_at = now()
    WHERE b.key = :key
      AND least(CAST(:capacity AS float8),
                b.tokens + extract(epoch FROM now() - b.refilled_at) * CAST(:refill AS float8))
          >= CAST(:needed AS float8) + CAST(:take AS float8) - 1
    RETURNING tokens
    """
)
_CREATE = text(
    "INSERT INTO rate_budgets (key, tokens, refilled_at) "
    "VALUES (:key, CAST(:capacity AS float8), now()) ON CONFLICT (key) DO NOTHING"
)
_LEVEL = text(
    """
    SELECT least(:capacity, tokens + extract(epoch FROM now() - refilled_at) * :refill)
    FROM rate_budgets WHERE key = :key
    """
)
# A session may take an advisory lock it already holds, so the slots this process holds are
# skipped by name rather than left to the lock to refuse.
# Background calls try the low slots only, interactive ones the reserved high slots first.
# CASE, not AND: PostgreSQL orders a WHERE clause's conditions by cost, and tried the lock
# of a slot this process already held first, stacking a second lock on it that one unlock
# left behind: the slot stayed taken for every other process.
_SLOTS_TAKE = text(
    "SELECT s FROM generate_series(CAST(:first AS integer), CAST(:last AS integer), "
    "CAST(:step AS integer)) AS s "
    "WHERE CASE WHEN s <> ALL(CAST(:held AS integer[])) "
    "THEN pg_try_advisory_lock(:key, s) ELSE false END LIMIT :wanted"
)
_SLOTS_GIVE_BACK = text(
    "SELECT pg_advisory_unlock(k, s) "
    "FROM unnest(CAST(:keys AS integer[]), CAST(:slots AS integer[])) AS u(k, s)"
)
_SLOT_POLL_FIRST, _SLOT_POLL_MAX = 0.005, 0.05
# Calls in a row one Zoho slot may serve in a process before it is unlocked for the others.
MAX_HANDOFFS = 8
WINDOW_SLACK_SECONDS = 2.0
# Tokens a process takes per round trip while the budget allows, spent within a second.
TAKE_AHEAD, TAKEN_AHEAD_SECONDS = 5, 1.0
# One connection holds the Zoho slots; the others serve the GoCardless buckets, one query
# at a time per organisation and priority.
BUDGET_POOL_SIZE = 3


class DatabaseBucket:
    """A token bucket in one `rate_budgets` row, shared by every process.

    While the budget is plentiful a process takes a few tokens per round trip and spends them
    within a second (unspent ones are simply lost, which errs on the safe side): a busy worker
    then pays one query per few calls, not one per call.
    """

    def __init__(
        self, engine: AsyncEngine, key: str, shape: BucketShape, clock: Callable[[], float]
    ) -> None:
        self._engine = engine
        self._key = key
        self._shape = shape
        self._clock = clock
        # Tokens taken ahead, per `needed` (a reserve-keeping caller never spends tokens taken
        # without the reserve): how many, and when they were taken.
        self._ahead: dict[float, tuple[int, float]] = {}

    async def take(self, needed: float) -> float:
        count, taken_at = self._ahead.get(needed, (0, 0.0))
        if count and self._clock() - taken_at < TAKEN_AHEAD_SECONDS:
            self._ahead[needed] = (count - 1, taken_at)
            return 0.0
        params = {
            "key": self._key,
            "capacity": self._shape.capacity,
            "refill": self._shape.refill_per_second,
            "needed": needed,
        }
        async with self._engine.connect() as connection:
            for _ in range(2):
                for take in (TAKE_AHEAD, 1):
                    taken = (await connection.execute(_TAKE, {**params, "take": take})).first()
                    if taken is not None:
                        await connection.commit()
                        self._ahead[needed] = (take - 1, self._clock())
                        return 0.0
                level = (await connection.execute(_LEVEL, params)).scalar()
                if level is not None:
                    break
                # The organisation's first request: its bucket starts full.
                await connection.execute(_CREATE, params)
            await connection.commit()
        missing = needed - float(level if level is not None else 0.0)
        return max(missing / self._shape.refill_per_second, 0.001)

    async def level(self) -> float | None:
        """Tokens left now (None before the first request): the budget a health view shows."""
        params = {
            "key": self._key,
            "capacity": self._shape.capacity,
            "refill": self._shape.refill_per_second,
        }
        async with self._engine.connect() as connection:
            value = (await connection.execute(_LEVEL, params)).scalar()
        return None if value is None else float(value)


class AdvisorySlots:
    """The process's one connection holding Zoho call slots as advisory locks.

    Queries on it run one at a time (asyncpg allows no more), so locks and unlocks queue
    and go out in batches: whatever was asked for while one round trip was on the wire goes
    in the next, every unlock in one statement, then every lock of a key in one. One at a
    time, a burst of 100 widget calls queued 180 round trips on this connection, each as
    slow as the busy event loop (43 ms a lock, 33 ms an unlock on average).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._held: dict[int, set[int]] = {}
        self._unlocks: list[_Unlock] = []
        self._takes: list[_Take] = []
        self._pump: asyncio.Task[None] | None = None
        # Which connection the slots are held on: a slot taken on an earlier one was released
        # with it, whatever a caller still believes.
        self.generation = 0

    async def take(self, key: int, slots: range) -> int:
        """A free slot of `key` among `slots`, tried in their order, waiting (polling) while
        all are held elsewhere."""
        pause = _SLOT_POLL_FIRST
        while True:
            slot = await _finish_even_if_cancelled(
                self._try_take(key, slots),
                undo=lambda slot: self.give_back(key, slot) if slot is not None else None,
            )
            if slot is not None:
                return slot
            await asyncio.sleep(pause)
            pause = min(pause * 2, _SLOT_POLL_MAX)

    async def give_back(self, key: int, slot: int) -> None:
        """Unlock the slot with the next batch; returns once PostgreSQL has."""
        unlock = _Unlock(key, slot, self.generation, asyncio.get_running_loop().create_future())
        # A cancelled caller no longer awaits it: its outcome is retrieved all the same, so
        # that an error is never reported as never retrieved.
        unlock.done.add_done_callback(_retrieve)
        self._unlocks.append(unlock)
        self._start_pump()
        # Released even when the caller is cancelled; a lost connection released it already.
        with contextlib.suppress(DBAPIError, InterfaceError, OSError):
            await asyncio.shield(unlock.done)

    async def aclose(self) -> None:
        # Closed for good, not handed back to the pool: a pooled session would keep its locks.
        if self._pump is not None:
            with contextlib.suppress(Exception):
                await self._pump
        async with self._lock:
            await self._drop_connection()

    async def _try_take(self, key: int, slots: range) -> int | None:
        take = _Take(key, slots, asyncio.get_running_loop().create_future())
        self._takes.append(take)
        self._start_pump()
        return await take.done

    def _start_pump(self) -> None:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_batches())

    async def _run_batches(self) -> None:
        while self._unlocks or self._takes:
            unlocks, self._unlocks = self._unlocks, []
            takes, self._takes = self._takes, []
            async with self._lock:
                try:
                    connection = await self._connect()
                    await self._unlock(connection, unlocks)
                    for (key, slots), group in _by_key(takes).items():
                        await self._lock_some(connection, key, slots, group)
                except Exception as exc:
                    # The connection is gone and every lock it held with it: start afresh.
                    # (Anything else is a bug, but must not leave a caller waiting for ever.)
                    log.warning("budget.slots.connection_lost", error=type(exc).__name__)
                    await self._drop_connection()
                    waiting: list[asyncio.Future[Any]] = [u.done for u in unlocks]
                    for future in [*waiting, *(t.done for t in takes)]:
                        if not future.done():
                            future.set_exception(exc)

    async def _connect(self) -> AsyncConnection:
        if self._connection is None:
            connection = await self._engine.connect()
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    async def _unlock(self, connection: AsyncConnection, unlocks: list[_Unlock]) -> None:
        # A slot locked on an earlier connection was released with it.
        current = [u for u in unlocks if u.generation == self.generation]
        if current:
            await connection.execute(
                _SLOTS_GIVE_BACK,
                {"keys": [u.key for u in current], "slots": [u.slot for u in current]},
            )
            for unlock in current:
                self._held.get(unlock.key, set()).discard(unlock.slot)
        for unlock in unlocks:
            unlock.done.set_result(None)

    async def _lock_some(
        self, connection: AsyncConnection, key: int, slots: range, takes: list[_Take]
    ) -> None:
        # A slot of ours (still held, or being unlocked) is skipped, never locked twice.
        held = self._held.setdefault(key, set())
        taken: list[int] = []
        if not all(slot in held for slot in slots):
            params = {
                "key": key,
                "first": slots[0],
                "last": slots[-1],
                "step": slots.step,
                "held": sorted(held),
                "wanted": len(takes),
            }
            taken = [int(s) for s in (await connection.execute(_SLOTS_TAKE, params)).scalars()]
            held.update(taken)
        # `LIMIT` len(takes): never more slots than takes; those left over poll again.
        for take, slot in itertools.zip_longest(takes, taken):
            take.done.set_result(slot)

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._held.clear()
        self.generation += 1
        if connection is not None:
            # It is being thrown away: whatever closing it raises changes nothing.
            with contextlib.suppress(Exception):
                await connection.invalidate()


@dataclass(frozen=True)
class _Unlock:
    key: int
    slot: int
    generation: int
    done: asyncio.Future[None]


@dataclass(frozen=True)
class _Take:
    key: int
    slots: range
    done: asyncio.Future[int | None]


def _by_key(takes: list[_Take]) -> dict[tuple[int, range], list[_Take]]:
    groups: dict[tuple[int, range], list[_Take]] = {}
    for take in takes:
        groups.setdefault((take.key, take.slots), []).append(take)
    return groups


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class SharedOrgLimiter:
    """At most `limit` calls of one Zoho org in flight across all processes.

    A local semaphore keeps this process from asking for more slots than exist; the slot
    itself is an advisory lock. Each task holds at most one slot of an org at a time (a
    call is one `async with`), so the slot is remembered per task. Background calls take
    only the slots below the interactive reserve, in every process alike.

    A call that ends while another of ours waits hands its slot over still locked: a burst
    of widget calls spent a lock and an unlock round trip per Zoho call, one at a time on
    the slots' connection, and queued behind them. A slot is handed over at most
    `MAX_HANDOFFS` times in a row, then unlocked, so other processes get their turn.
    """

    def __init__(
        self, slots: AdvisorySlots, org_id: str, limit: int, priority: Priority = "interactive"
    ) -> None:
        if limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        self.limit = limit
        self.in_flight = 0
        self._slots = slots
        self._key = lock_key("zoho-calls", org_id)
        shared = limit - interactive_reserve(limit)
        self._range = range(limit - 1, -1, -1) if priority == "interactive" else range(shared)
        self._local = asyncio.Semaphore(len(self._range))
        self._held: dict[asyncio.Task[Any] | None, _Held] = {}
        self._waiting = 0
        # Slots still locked, left by calls that ended while others waited.
        self._spare: list[_Held] = []
        self._trimming: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> None:
        self._waiting += 1
        try:
            await self._local.acquire()
        except BaseException:
            # Woken for a spare slot and cancelled before taking it: unlock what nobody awaits.
            self._waiting -= 1
            self._trim_later()
            raise
        self._waiting -= 1
        held = self._take_spare()
        if held is None:
            try:
                slot = await self._slots.take(self._key, self._range)
            except BaseException:
                self._local.release()
                raise
            held = _Held(slot, self._slots.generation)
        self._held[asyncio.current_task()] = held
        self.in_flight += 1

    def _take_spare(self) -> _Held | None:
        while self._spare:
            held = self._spare.pop()
            if held.generation == self._slots.generation:
                return held
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held = self._held.pop(asyncio.current_task())
        self.in_flight -= 1
        if self._waiting > len(self._spare) and held.handoffs < MAX_HANDOFFS:
            self._spare.append(_Held(held.slot, held.generation, held.handoffs + 1))
            self._local.release()
            return
        try:
            await self._give_back(held)
        finally:
            self._local.release()

    async def _give_back(self, held: _Held) -> None:
        if held.generation == self._slots.generation:
            await self._slots.give_back(self._key, held.slot)

    def _trim_later(self) -> None:
        async def trim() -> None:
            while len(self._spare) > self._waiting:
                await self._give_back(self._spare.pop())

        if len(self._spare) > self._waiting:
            task = asyncio.create_task(trim())
            self._trimming.add(task)
            task.add_done_callback(self._trimming.discard)


@dataclass(frozen=True)
class _Held:
    slot: int
    generation: int
    handoffs: int = 0


class SharedOrgLimiters:
    """The registry the Zoho client draws from: one shared limiter per org."""

    def __init__(self, slots: AdvisorySlots, limit: int) -> None:
        self.limit = limit
        self._slots = slots
        self._by_org: dict[tuple[str, Priority], SharedOrgLimiter] = {}

    def for_org(
        self, org_id: str, priority: Priority = "interactive"
    ) -> AbstractAsyncContextManager[Any]:
        limiter = self._by_org.get((org_id, priority))
        if limiter is None:
            limiter = SharedOrgLimiter(self._slots, org_id, self.limit, priority)
            self._by_org[(org_id, priority)] = limiter
        return limiter

    def forget(self, org_id: str) -> None:
        for priority in ("interactive", "background"):
            self._by_org.pop((org_id, priority), None)

    async def aclose(self) -> None:
        await self._slots.aclose()


@dataclass
class Budgets:
    """The process's budgets, and the connections they keep."""

    gocardless: PacerRegistry
    zoho: LimiterRegistry
    engine: AsyncEngine | None = None

    async def aclose(self) -> None:
        await self.zoho.aclose()
        if self.engine is not None:
            await self.engine.dispose()


def shared_budgets(engine: AsyncEngine, *, rate_per_minute: int, zoho_concurrency: int) -> Budgets:
    """The process's budgets: in PostgreSQL when the database is, in-process otherwise.

    They get a small pool of their own: a request holding its pooled connection must never
    wait for a second one from the same pool to count a provider call.
    """
    if engine.dialect.name != "postgresql":
        return Budgets(
            PacerRegistry(rate_per_minute=rate_per_minute), OrgLimiters(zoho_concurrency)
        )
    own = create_async_engine(engine.url, pool_size=BUDGET_POOL_SIZE, max_overflow=0)
    pacers = PacerRegistry(
        rate_per_minute=rate_per_minute,
        # A request is counted here a moment before GoCardless counts it; the slack keeps a
        # late one from landing in a window the bucket thought was closed.
        slack_seconds=WINDOW_SLACK_SECONDS,
        bucket_for=lambda organisation_id, shape: DatabaseBucket(
            own, f"gocardless:{organisation_id}", shape, time.monotonic
        ),
    )
    return Budgets(pacers, SharedOrgLimiters(AdvisorySlots(own), zoho_concurrency), own)


def lock_key(namespace: str, name: str) -> int:
    """A stable signed 32-bit key for the two-key advisory lock functions."""
    value = zlib.crc32(f"{namespace}:{name}".encode())
    return value - 2**32 if value >= 2**31 else value


async def _finish_even_if_cancelled(
    work: Awaitable[T], undo: Callable[[T], Awaitable[None] | None]
) -> T:
    """Run `work` to its end even if the caller is cancelled meanwhile, then undo its effect,
    so a cancelled wait never leaves a slot locked with nobody to release it."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        result = await task
        undone = undo(result)
        if undone is not None:
            await undone
        raise
