"""Benchmark: our lanes against procrastinate on the fairness figure, with the same work.

The question is the one issue 12 asks of a maintained queue: while merchant A has a backlog,
does merchant B's lone event wait? Both run on PostgreSQL with the same bounded total of
workers (4) and the same model of the work, measured in wall time:

- A: 200 steps (each a batch of 100 events: pages, mirror, settle) of 250 ms each, queued in
  4 s (50 a second), one at a time per merchant as a lane runs them;
- B: 30 steps of 50 ms, one a second.

Compared: `jobs.lanes.run_lanes` over a jobs table claimed with SKIP LOCKED (how the inbox
is claimed), procrastinate 3 with a `lock` per merchant (its per-key serialisation), and
procrastinate plain (first in, first out). Printed for each: B's queue-to-done p50/p99/max
and when A's last step finished.

procrastinate is not a dependency of the service; install it for this benchmark only:

    .venv/bin/pip install procrastinate==3.10.0 'psycopg[binary]'
    .venv/bin/python -m bench.queue_fairness
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.jobs.lanes import LaneKind, run_lanes
from app.runtime import Runtime
from bench.servers import ADMIN_URL

DATABASE = os.environ.get("BENCH_DATABASE_NAME", "gocardless_zoho_bench") + "_queue"
WORKERS = 4
A_STEPS, A_RATE, A_WORK = 200, 50.0, 0.25
B_STEPS, B_RATE, B_WORK = 30, 1.0, 0.05
MERCHANTS = {name: uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.bench") for name in ("A", "B")}


class Record:
    """When each step was queued and finished, by merchant."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.queued: dict[int, float] = {}
        self.done: dict[int, tuple[str, float]] = {}

    def finish(self, step: int, merchant: str) -> None:
        self.done[step] = (merchant, time.perf_counter())

    def report(self, name: str) -> None:
        waits = sorted(t - self.queued[s] for s, (m, t) in self.done.items() if m == "B")
        a_last = max(t for m, t in self.done.values() if m == "A") - self.started
        p99 = waits[min(int(0.99 * len(waits)), len(waits) - 1)]
        print(
            f"{name:<34} B p50 {statistics.median(waits):6.2f} s, p99 {p99:6.2f} s, "
            f"max {waits[-1]:6.2f} s; A done after {a_last:5.1f} s"
        )


async def arrivals(enqueue: Callable[[str, int], Awaitable[None]], record: Record) -> None:
    """A's steps at 50 a second and B's at one a second, from the same start."""
    plan = [(n / A_RATE, "A", n) for n in range(A_STEPS)]
    plan += [(n / B_RATE, "B", 10_000 + n) for n in range(B_STEPS)]
    for at, merchant, step in sorted(plan):
        await asyncio.sleep(max(0.0, record.started + at - time.perf_counter()))
        record.queued[step] = time.perf_counter()
        await enqueue(merchant, step)


async def work(merchant: str) -> None:
    await asyncio.sleep(A_WORK if merchant == "A" else B_WORK)


async def until_done(record: Record) -> None:
    while len(record.done) < A_STEPS + B_STEPS:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def lanes(engine: AsyncEngine) -> Record:
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS lane_jobs"))
        await connection.execute(
            text(
                "CREATE TABLE lane_jobs (id bigint PRIMARY KEY, installation uuid NOT NULL, "
                "merchant text NOT NULL, done boolean NOT NULL DEFAULT false, "
                "claimed boolean NOT NULL DEFAULT false)"
            )
        )
    record = Record()
    runtime = cast(Runtime, SimpleNamespace(stopping=asyncio.Event()))

    async def enqueue(merchant: str, step: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO lane_jobs (id, installation, merchant) VALUES (:i, :n, :m)"),
                {"i": step, "n": MERCHANTS[merchant], "m": merchant},
            )

    async def due(_runtime: Runtime) -> list[uuid.UUID]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT DISTINCT installation FROM lane_jobs WHERE NOT claimed")
            )
            return [row[0] for row in rows]

    async def step(_runtime: Runtime, installation: uuid.UUID) -> bool:
        async with engine.begin() as connection:
            claimed = (
                await connection.execute(
                    text(
                        "UPDATE lane_jobs SET claimed = true WHERE id = (SELECT id FROM lane_jobs "
                        "WHERE installation = :n AND NOT claimed ORDER BY id LIMIT 1 "
                        "FOR UPDATE SKIP LOCKED) RETURNING id, merchant"
                    ),
                    {"n": installation},
                )
            ).first()
        if claimed is None:
            return False
        await work(claimed.merchant)
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE lane_jobs SET done = true WHERE id = :i"), {"i": claimed.id}
            )
        record.finish(claimed.id, claimed.merchant)
        return True

    kind = LaneKind("bench", due, step)
    # The worker's poll for installations with work due is 0.5 s, as for the inbox.
    runner = asyncio.create_task(run_lanes(runtime, kind, limit=WORKERS, poll_seconds=0.5))
    await arrivals(enqueue, record)
    await until_done(record)
    runtime.stopping.set()
    await runner
    return record


async def procrastinated(conninfo: str, *, lock: bool) -> Record:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    record = Record()

    @app.task(name="step")
    async def step(merchant: str, number: int) -> None:
        await work(merchant)
        record.finish(number, merchant)

    async with app.open_async():
        await app.schema_manager.apply_schema_async()

        async def enqueue(merchant: str, number: int) -> None:
            deferrer = step.configure(lock=merchant) if lock else step
            await deferrer.defer_async(merchant=merchant, number=number)

        worker = asyncio.create_task(
            app.run_worker_async(
                concurrency=WORKERS,
                install_signal_handlers=False,
                delete_jobs="always",
                # A job whose lock frees is not notified: it waits for this poll (default
                # 5 s), set here to our own poll for due work.
                fetch_job_polling_interval=0.5,
            )
        )
        await arrivals(enqueue, record)
        await until_done(record)
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    return record


async def fresh_database() -> tuple[AsyncEngine, str]:
    admin = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    await admin.dispose()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}"
    conninfo = url.replace("postgresql+asyncpg://", "postgresql://")
    return create_async_engine(url), conninfo


async def main() -> None:
    load: list[Any] = [os.getloadavg()[0]]
    print(
        f"{WORKERS} workers; A: {A_STEPS} steps of {A_WORK * 1000:.0f} ms queued at "
        f"{A_RATE:.0f}/s, B: {B_STEPS} of {B_WORK * 1000:.0f} ms at {B_RATE:.0f}/s"
    )
    engine, _ = await fresh_database()
    try:
        (await lanes(engine)).report("lanes (jobs.lanes)")
    finally:
        await engine.dispose()
    load.append(os.getloadavg()[0])
    for lock, name in ((True, "lock per merchant"), (False, "first in, first out")):
        # A database of its own each: procrastinate's schema is applied afresh.
        engine, conninfo = await fresh_database()
        await engine.dispose()
        (await procrastinated(conninfo, lock=lock)).report(f"procrastinate, {name}")
        load.append(os.getloadavg()[0])
    print(f"1-min load average {min(load):.1f} to {max(load):.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    asyncio.run(main())
