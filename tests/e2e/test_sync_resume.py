"""Sync Now interrupted (a crash, an outage, a revoked token, a lost lease) resumes where it
stopped: every chain's cursor and count pick up from its last stored page, and no CRM record
is created twice even when the CRM applied a batch whose answer we never recorded."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime
from math import ceil

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.jobs.worker import drain
from app.models import GcCustomer, GcPayment, Lease, SyncChain
from app.services import leases
from app.services.crm.push import IN_FLIGHT_PER_SLOT
from app.services.ownership import NAMESPACE, Owner
from app.services.sync import feed as sync_feed
from app.services.sync import run_sync
from app.simulators.common import FaultConfig
from app.simulators.zoho.faults import FaultRule
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
    e2e_settings,
    let_time_pass,
    open_world,
    seed_gocardless,
    start_sync,
    sync_run,
    sync_status,
)

CUSTOMER_COUNT = 1_500
PAYMENT_COUNT = 3_000


@pytest.fixture
async def one_chain_each(clean_db: AsyncEngine) -> AsyncIterator[World]:
    """Payments listed as one chain, so the tests can name the exact page each chain is at."""
    async with open_world(clean_db, settings=e2e_settings(sync_payment_windows=1)) as world:
        yield world


async def chains(world: World) -> dict[str, SyncChain]:
    async with world.runtime.sessionmaker() as session:
        return {c.name: c for c in (await session.scalars(select(SyncChain))).all()}


def window_holds(window: SyncChain, created_at: datetime) -> bool:
    return (window.created_from is None or created_at >= window.created_from) and (
        window.created_before is None or created_at < window.created_before
    )


async def assert_each_page_read_once_but_those_in_flight(world: World, crashes: int = 1) -> None:
    """A page stored is never read again; a crash can lose only the pages each chain had in
    flight: the one being stored and the next, already asked for."""
    by_resource: dict[str, list[SyncChain]] = {}
    for chain in (await chains(world)).values():
        by_resource.setdefault(chain.resource, []).append(chain)
    for resource, mine in by_resource.items():
        reread = world.listings(resource) - sum(c.pages for c in mine)
        assert 0 <= reread <= 2 * crashes * len(mine), (resource, reread)


async def mirror_count(world: World, table: type[GcCustomer] | type[GcPayment]) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def newest_payment_ids(world: World) -> list[str]:
    return [p.id for p in world.merchant.payments.newest_first()]


def newest_customer_ids(world: World) -> list[str]:
    return [c.id for c in world.merchant.customers.newest_first()]


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


async def test_crash_while_listing_resumes_each_chain_from_its_stored_cursor(
    one_chain_each: World,
) -> None:
    world = one_chain_each
    seed_gocardless(
        world.gocardless, world.merchant, customers=CUSTOMER_COUNT, payments=PAYMENT_COUNT
    )
    installed = await connect(world)
    # The fourth page of payments arrives, and the process dies before storing it.
    world.router.trip("GET", f"{GOCARDLESS}/payments", nth=4, after_response=True)
    await start_sync(world, installed)
    with pytest.raises(Crash):
        await drain(world.runtime)

    run = await sync_run(world, installed.installation_id)
    assert (run.state, run.stage) == ("running", "listing")
    stood = await chains(world)
    payments = stood["payments"]
    assert (payments.cursor, payments.listed, payments.pages, payments.done) == (
        newest_payment_ids(world)[3 * 500 - 1],
        3 * 500,
        3,
        False,
    )
    assert await mirror_count(world, GcPayment) == 3 * 500
    # The other chains stood wherever their last stored page left them, cursor and all.
    customers = stood["customers"]
    assert customers.listed == min(500 * customers.pages, CUSTOMER_COUNT)
    assert customers.cursor == (
        None if customers.done else newest_customer_ids(world)[customers.listed - 1]
    )
    assert await mirror_count(world, GcCustomer) == customers.listed
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
    # Only the pages lost in the crash were read twice (the payments page, and whatever
    # the other chains had in flight), and only batches in flight at the crash can have
    # been sent twice.
    assert world.listings("payments") == ceil(PAYMENT_COUNT / 500) + 1
    await assert_each_page_read_once_but_those_in_flight(world)
    in_flight = IN_FLIGHT_PER_SLOT * world.settings.zoho_concurrency
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
    assert run.stage in ("listing", "crm_customers", "crm_payments")
    in_crm = crm_record_count(world, PAYMENTS)
    assert 10 * 100 <= in_crm < PAYMENT_COUNT

    await let_time_pass(world)
    await drain(world.runtime)

    assert (await sync_status(world, installed))["state"] == "succeeded"
    await assert_each_page_read_once_but_those_in_flight(world)
    # Batches in flight at the crash went again: as updates, never as second records.
    resent = world.upserts(PAYMENTS) - ceil(PAYMENT_COUNT / 100)
    assert 1 <= resent <= IN_FLIGHT_PER_SLOT * world.settings.zoho_concurrency
    assert_complete(world)


async def test_gocardless_outage_pauses_the_sync_until_it_recovers(seeded: World) -> None:
    world = seeded
    installed = await connect(world)

    upsert = f"{ZOHO}/crm/v8/{CUSTOMERS}/upsert"
    upsert_sent = asyncio.Event()

    async def outage() -> None:
        # GoCardless fails once the first customers' batch is on its way to Zoho.
        await upsert_sent.wait()
        world.gocardless.faults.configure(
            FaultConfig(server_error_rate=1.0, path_prefixes=["/customers"])
        )

    async def answer_once_the_listing_failed() -> None:
        # Zoho has stored that batch; its answer comes back only once the listing gave up,
        # while the sync pauses.
        customers = f"{GOCARDLESS}/customers"
        while world.router.count("GET", customers, ok_only=False) - world.listings("customers") < 5:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)

    world.router.trip("GET", f"{GOCARDLESS}/customers", nth=2, action=outage)
    world.router.trip("POST", upsert, nth=1, action=upsert_sent.set)
    world.router.trip(
        "POST", upsert, nth=1, action=answer_once_the_listing_failed, after_response=True
    )
    await start_sync(world, installed)
    await run_sync(world.runtime, installed.installation_id)

    # Transient: retried, then left running at the stored cursor for the next tick.
    run = await sync_run(world, installed.installation_id)
    assert (run.state, run.stage, run.error) == ("running", "listing", None)
    customers = (await chains(world))["customers"]
    assert (customers.listed, customers.done) == (500, False)
    assert customers.cursor == newest_customer_ids(world)[499]
    failed = world.router.count("GET", f"{GOCARDLESS}/customers", ok_only=False)
    assert failed - world.listings("customers") == 5  # the client's bounded retries

    world.gocardless.faults.reset()
    await drain(world.runtime)
    assert (await sync_status(world, installed))["state"] == "succeeded"
    assert world.listings("customers") == ceil(CUSTOMER_COUNT / 500)
    await assert_each_page_read_once_but_those_in_flight(world)
    # The batches on the wire when the listing failed were answered and recorded: none went
    # again.
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
    await assert_each_page_read_once_but_those_in_flight(world)
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


async def test_a_crash_among_payment_windows_resumes_every_window(world: World) -> None:
    payment_count = 6_000
    seed_gocardless(
        world.gocardless, world.merchant, customers=CUSTOMER_COUNT, payments=payment_count
    )
    installed = await connect(world)
    # Late enough that the payments listing has been split into windows.
    world.router.trip("GET", f"{GOCARDLESS}/payments", nth=9, after_response=True)
    await start_sync(world, installed)
    with pytest.raises(Crash):
        await drain(world.runtime)

    stood = await chains(world)
    windows = [c for c in stood.values() if c.resource == "payments"]
    assert len(windows) >= 2
    assert sum(c.listed for c in windows) == await mirror_count(world, GcPayment)
    # Each window stands at a payment of GoCardless's list, and its rows are its own.
    known = set(newest_payment_ids(world))
    async with world.runtime.sessionmaker() as session:
        stored = dict((await session.execute(select(GcPayment.id, GcPayment.gc_created_at))).all())
    for window in windows:
        assert window.cursor is None or window.cursor in known
    assert all(sum(window_holds(w, at) for w in windows) == 1 for at in stored.values())

    await let_time_pass(world)
    await drain(world.runtime)

    status = await sync_status(world, installed)
    assert status["state"] == "succeeded"
    # Every payment listed once over all windows, none twice, none missed.
    assert (status["customers_listed"], status["payments_listed"]) == (
        CUSTOMER_COUNT,
        payment_count,
    )
    assert await mirror_count(world, GcPayment) == payment_count
    await assert_each_page_read_once_but_those_in_flight(world)
    in_flight = IN_FLIGHT_PER_SLOT * world.settings.zoho_concurrency
    assert 0 <= world.upserts(PAYMENTS) - ceil(payment_count / 100) <= in_flight
    assert crm_record_count(world, CUSTOMERS) == CUSTOMER_COUNT
    assert crm_record_count(world, PAYMENTS) == payment_count
    assert_crm_matches_gocardless(world)


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
    assert (await sync_run(world, installed.installation_id)).stage == "listing"
    assert world.listings("customers") == world.listings("payments") == 0

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
    # Stopped at a page boundary: each chain stored whole pages, with their cursor.
    assert (run.state, run.error, run.stage) == ("running", None, "listing")
    stood = await chains(world)
    assert stood["payments"].listed in (500, 1000) and stood["payments"].cursor is not None
    for chain in stood.values():
        assert chain.listed == min(500 * chain.pages, chain.listed)
        assert chain.done or chain.cursor is not None
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(Lease).where(Lease.name == lease)) is None

    world.runtime.stopping.clear()  # the next process
    await drain(world.runtime)
    assert (await sync_status(world, installed))["state"] == "succeeded"
    # At most the pages in flight (the one being stored, the one fetched ahead) again.
    await assert_each_page_read_once_but_those_in_flight(world)
    assert_complete(world)


async def test_a_crm_failing_payments_mid_listing_loses_none_and_never_holds_the_listing(
    seeded: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = seeded
    # A feed smaller than what the listing brings after the failure.
    monkeypatch.setattr(sync_feed, "CAPACITY", 100)
    installed = await connect(world)
    failing = FaultRule(path_contains=f"/{PAYMENTS}/upsert", status=503)
    # The first batch of payments fed from the listing meets a CRM that keeps failing.
    world.router.trip(
        "POST",
        f"{ZOHO}/crm/v8/{PAYMENTS}/upsert",
        nth=1,
        action=lambda: world.zoho.faults.append(failing),
    )
    await start_sync(world, installed)
    # (A feed that held the listing back would never let this return.)
    await asyncio.wait_for(run_sync(world.runtime, installed.installation_id), 60)

    # The listing went on to its end at its own pace (the feed dropped what the failed
    # writer no longer took): every page read once.
    listed = await chains(world)
    assert all(chain.done for chain in listed.values())
    await assert_each_page_read_once_but_those_in_flight(world, crashes=0)
    # What the feed dropped is pending in the mirror, not lost.
    run = await sync_run(world, installed.installation_id)
    assert (run.state, run.stage) == ("running", "crm_payments")
    async with world.runtime.sessionmaker() as session:
        pending = await session.scalar(
            select(func.count()).select_from(GcPayment).where(GcPayment.crm_state == "pending")
        )
    assert pending and pending + crm_record_count(world, PAYMENTS) == PAYMENT_COUNT

    world.zoho.faults.clear()
    await let_time_pass(world)
    await drain(world.runtime)
    assert (await sync_status(world, installed))["state"] == "succeeded"
    assert_complete(world)
