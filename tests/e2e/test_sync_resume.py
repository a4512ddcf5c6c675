"""Sync Now interrupted (a crash, an outage, a revoked token, a lost lease) resumes where it
stopped: the cursor and counts pick up from the last stored page, and no CRM record is
created twice even when the CRM applied a batch whose answer we never recorded."""

from __future__ import annotations

import dataclasses
from math import ceil

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.jobs.worker import drain
from app.models import GcCustomer, GcPayment, Lease
from app.services import leases
from app.services.ownership import NAMESPACE, Owner
from app.services.sync import run_sync
from app.simulators.common import FaultConfig
from tests.e2e.harness import (
    CUSTOMERS,
    GOCARDLESS,
    PAYMENTS,
    ZOHO,
    Crash,
    World,
    assert_crm_matches_gocardless,
    authorize_gocardless,
    connect,
    crm_record_count,
    let_time_pass,
    seed_gocardless,
    start_sync,
    sync_run,
    sync_status,
)

CUSTOMER_COUNT = 1_500
PAYMENT_COUNT = 3_000


async def mirror_count(world: World, table: type[GcCustomer] | type[GcPayment]) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def newest_payment_ids(world: World) -> list[str]:
    return [p.id for p in world.merchant.payments.newest_first()]


def assert_complete(world: World) -> None:
    assert crm_record_count(world, CUSTOMERS) == CUSTOMER_COUNT
    assert crm_record_count(world, PAYMENTS) == PAYMENT_COUNT
    assert_crm_matches_gocardless(world)


@pytest.fixture
async def seeded(world: World) -> World:
    seed_gocardless(
        world.gocardless, world.merchant, customers=CUSTOMER_COUNT, payments=PAYMENT_COUNT
    )
    return world


async def test_crash_while_listing_resumes_from_the_stored_cursor(seeded: World) -> None:
    world = seeded
    installed = await connect(world)
    # The fourth page of payments arrives, and the process dies before storing it.
    world.router.trip("GET", f"{GOCARDLESS}/payments", nth=4, after_response=True)
    await start_sync(world, installed)
    with pytest.raises(Crash):
        await drain(world.runtime)

    run = await sync_run(world, installed.installation_id)
    assert (run.state, run.stage) == ("running", "payments")
    assert run.cursor == newest_payment_ids(world)[3 * 500 - 1]
    assert (run.customers_listed, run.payments_listed) == (CUSTOMER_COUNT, 3 * 500)
    assert await mirror_count(world, GcPayment) == 3 * 500
    # Upserts run alongside the listing, of stored rows only.
    assert crm_record_count(world, PAYMENTS) <= 3 * 500

    await let_time_pass(world)  # a killed worker's lease runs out
    await drain(world.runtime)

    status = await sync_status(world, installed)
    assert status["state"] == "succeeded"
    assert (status["customers_listed"], status["payments_listed"]) == (
        CUSTOMER_COUNT,
        PAYMENT_COUNT,
    )
    # Only the page lost in the crash was read twice, and only batches in flight at the
    # crash can have been sent twice.
    assert world.listings("customers") == ceil(CUSTOMER_COUNT / 500)
    assert world.listings("payments") == ceil(PAYMENT_COUNT / 500) + 1
    in_flight = world.settings.zoho_concurrency
    assert 0 <= world.upserts(CUSTOMERS) - ceil(CUSTOMER_COUNT / 100) <= in_flight
    assert 0 <= world.upserts(PAYMENTS) - ceil(PAYMENT_COUNT / 100) <= in_flight
    assert_complete(world)


async def test_crash_after_the_crm_applied_a_batch_creates_no_duplicate(seeded: World) -> None:
    world = seeded
    installed = await connect(world)
    # Zoho stores the tenth batch of payments; its answer dies with the process.
    world.router.trip("POST", f"{ZOHO}/crm/v8/{PAYMENTS}/upsert", nth=10, after_response=True)
    await start_sync(world, installed)
    with pytest.raises(Crash):
        await drain(world.runtime)
    run = await sync_run(world, installed.installation_id)
    # Upserts start while payments are still being listed.
    assert run.state == "running"
    assert run.stage in ("payments", "crm_customers", "crm_payments")
    in_crm = crm_record_count(world, PAYMENTS)
    assert 10 * 100 <= in_crm < PAYMENT_COUNT

    await let_time_pass(world)
    await drain(world.runtime)

    assert (await sync_status(world, installed))["state"] == "succeeded"
    assert world.listings("payments") == ceil(PAYMENT_COUNT / 500)
    # Batches in flight at the crash went again: as updates, never as second records.
    resent = world.upserts(PAYMENTS) - ceil(PAYMENT_COUNT / 100)
    assert 1 <= resent <= world.settings.zoho_concurrency
    assert_complete(world)


async def test_gocardless_outage_pauses_the_sync_until_it_recovers(seeded: World) -> None:
    world = seeded
    installed = await connect(world)

    def outage() -> None:
        world.gocardless.faults.configure(
            FaultConfig(server_error_rate=1.0, path_prefixes=["/customers"])
        )

    world.router.trip("GET", f"{GOCARDLESS}/customers", nth=2, action=outage)
    await start_sync(world, installed)
    await run_sync(world.runtime, installed.installation_id)

    # Transient: retried, then left running at the stored cursor for the next tick.
    run = await sync_run(world, installed.installation_id)
    assert (run.state, run.stage, run.error) == ("running", "customers", None)
    assert run.customers_listed == 500
    assert run.cursor == [c.id for c in world.merchant.customers.newest_first()][499]
    failed = world.router.count("GET", f"{GOCARDLESS}/customers", ok_only=False)
    assert failed - world.listings("customers") == 5  # the client's bounded retries

    world.gocardless.faults.reset()
    await drain(world.runtime)
    assert (await sync_status(world, installed))["state"] == "succeeded"
    assert world.listings("customers") == ceil(CUSTOMER_COUNT / 500)
    assert world.upserts(CUSTOMERS) == ceil(CUSTOMER_COUNT / 100)
    assert_complete(world)


async def test_disconnect_mid_sync_fails_it_and_reauthorizing_resumes(seeded: World) -> None:
    world = seeded
    installed = await connect(world)

    async def merchant_disconnects() -> None:
        response = await world.client.post(
            f"{GOCARDLESS}/_sim/organisations/{world.merchant.id}/disconnect"
        )
        assert response.json() == {"revoked_tokens": 1}

    world.router.trip("GET", f"{GOCARDLESS}/payments", nth=2, action=merchant_disconnects)
    await start_sync(world, installed)
    await drain(world.runtime)
    await world.gocardless.dispatcher.drain()
    await drain(world.runtime)  # the disconnect webhook

    status = await sync_status(world, installed)
    assert status["state"] == "failed" and "GoCardless" in status["error"]
    assert status["can_sync_now"] is False  # not until GoCardless is authorized again
    assert status["payments_listed"] == 500

    assert (await authorize_gocardless(world, installed)).status_code == 200
    assert (await sync_status(world, installed))["can_sync_now"] is True
    resumed = await start_sync(world, installed)
    assert resumed["state"] == "running" and resumed["payments_listed"] == 500
    await drain(world.runtime)

    assert (await sync_status(world, installed))["state"] == "succeeded"
    assert world.listings("customers") == ceil(CUSTOMER_COUNT / 500)
    assert world.listings("payments") == ceil(PAYMENT_COUNT / 500)
    assert_complete(world)


async def test_a_worker_that_lost_its_lease_leaves_the_sync_to_the_new_owner(
    seeded: World,
) -> None:
    world = seeded
    installed = await connect(world)
    lease = f"sync:{installed.installation_id}"
    unpooled = create_async_engine(world.runtime.engine.url, poolclass=NullPool)
    other_worker = dataclasses.replace(world.runtime, owner=Owner(unpooled))

    async def our_connection_breaks_and_another_worker_takes_over() -> None:
        # Our owner connection is cut (a network blip, a failover): PostgreSQL drops its lock,
        # so to everyone else our process is dead...
        ours = world.runtime.owner.current
        async with world.runtime.engine.begin() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = :namespace AND objid = :key"
                ),
                {"namespace": NAMESPACE, "key": ours},
            )
        # ...and another worker takes the sync over.
        assert await leases.acquire(other_worker, lease) is not None

    world.router.trip(
        "POST",
        f"{ZOHO}/crm/v8/{CUSTOMERS}/upsert",
        nth=3,
        action=our_connection_breaks_and_another_worker_takes_over,
    )
    await start_sync(world, installed)
    await run_sync(world.runtime, installed.installation_id)

    run = await sync_run(world, installed.installation_id)
    # Still running, not failed: the new owner carries on from here.
    assert (run.state, run.error) == ("running", None) and run.stage != "done"
    async with world.runtime.sessionmaker() as session:
        owner = await session.scalar(select(Lease.owner).where(Lease.name == lease))
    assert owner == other_worker.owner.current

    await other_worker.owner.close()  # the other worker died too
    await unpooled.dispose()
    await drain(world.runtime)
    assert (await sync_status(world, installed))["state"] == "succeeded"
    assert_complete(world)


async def test_a_dead_workers_sync_is_taken_over_at_once(seeded: World) -> None:
    """No expiry to wait out: the lease is free the moment its owner's connection is gone."""
    world = seeded
    installed = await connect(world)
    lease = f"sync:{installed.installation_id}"
    unpooled = create_async_engine(world.runtime.engine.url, poolclass=NullPool)
    crashed = dataclasses.replace(world.runtime, owner=Owner(unpooled))
    await start_sync(world, installed)
    assert await leases.acquire(crashed, lease) is not None
    # While the other worker lives, its sync is its own.
    await run_sync(world.runtime, installed.installation_id)
    assert (await sync_run(world, installed.installation_id)).stage == "customers"
    assert world.listings("customers") == 0

    await crashed.owner.close()  # kill -9: its connection closes with the process
    await unpooled.dispose()
    await drain(world.runtime)
    assert (await sync_status(world, installed))["state"] == "succeeded"
    assert_complete(world)


async def test_a_stop_between_pages_resumes_from_the_cursor(seeded: World) -> None:
    world = seeded
    installed = await connect(world)
    lease = f"sync:{installed.installation_id}"

    def stop_requested() -> None:
        world.runtime.stopping.set()  # SIGTERM while the third payments page is listed

    world.router.trip("GET", f"{GOCARDLESS}/payments", nth=3, action=stop_requested)
    await start_sync(world, installed)
    await run_sync(world.runtime, installed.installation_id)

    run = await sync_run(world, installed.installation_id)
    # Stopped at a page boundary: what was stored is whole pages, with their cursor.
    assert (run.state, run.error, run.stage) == ("running", None, "payments")
    assert run.payments_listed in (500, 1000) and run.cursor is not None
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(Lease).where(Lease.name == lease)) is None

    world.runtime.stopping.clear()  # the next process
    await drain(world.runtime)
    assert (await sync_status(world, installed))["state"] == "succeeded"
    # At most the pages in flight (the one being stored, the one fetched ahead) again.
    assert world.listings("payments") <= ceil(PAYMENT_COUNT / 500) + 2
    assert_complete(world)
