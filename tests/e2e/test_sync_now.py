"""Sync Now against both simulators: every record lands once, with the fewest calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from math import ceil

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import SyncChain
from tests.e2e.harness import (
    CUSTOMERS,
    FAST_DELIVERY,
    GOCARDLESS,
    PAYMENTS,
    ZOHO,
    World,
    assert_crm_matches_gocardless,
    connect,
    crm_record_count,
    e2e_settings,
    open_world,
    seed_gocardless,
    settle,
    sync_now,
    sync_status,
    work_left,
)
from tests.e2e.merchant import Merchant

GC_PAGE = 500
CRM_BATCH = 100


@pytest.fixture
async def one_chain_each(clean_db: AsyncEngine) -> AsyncIterator[World]:
    """Payments listed as one chain: the fewest calls GoCardless allows."""
    async with open_world(clean_db, settings=e2e_settings(sync_payment_windows=1)) as world:
        yield world


async def chains(world: World) -> list[SyncChain]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(SyncChain).order_by(SyncChain.name))).all())


async def test_initial_sync_uses_the_minimum_number_of_calls(one_chain_each: World) -> None:
    world = one_chain_each
    installed = await connect(world)
    # The first customers share an email with one Contact (linked) and with two (left alone).
    seeded = seed_gocardless(
        world.gocardless,
        world.merchant,
        customers=2_500,
        payments=6_000,
        emails=["Jane.Doe@example.com", "shared.inbox@example.com"],
    )
    world.router.forget_calls()

    status = await sync_now(world, installed)

    assert status["state"] == "succeeded" and status["progress"] == 1.0
    assert (status["customers_synced"], status["payments_synced"]) == (2_500, 6_000)
    assert (status["customers_listed"], status["payments_listed"]) == (2_500, 6_000)
    assert status["mandates_listed"] == len(seeded.mandates)
    assert (status["contacts_linked"], status["contacts_ambiguous"]) == (1, 1)
    assert world.listings("customers") == ceil(2_500 / GC_PAGE)
    assert world.listings("mandates") == ceil(len(seeded.mandates) / GC_PAGE)
    assert world.listings("payments") == ceil(6_000 / GC_PAGE)
    # One call notes where the event stream stood, one replays what happened meanwhile.
    assert world.listings("events") == 2
    assert world.router.count("GET", f"{GOCARDLESS}/", prefix=True, ok_only=False) == (
        world.listings("customers")
        + world.listings("mandates")
        + world.listings("payments")
        + world.listings("events")
    )
    assert world.upserts(CUSTOMERS) == ceil(2_500 / CRM_BATCH)
    assert world.upserts(PAYMENTS) == ceil(6_000 / CRM_BATCH)
    assert crm_record_count(world, CUSTOMERS) == 2_500
    assert crm_record_count(world, PAYMENTS) == 6_000
    # Every payment went once, with its Customer lookup (compared record by record).
    assert_crm_matches_gocardless(world)
    # The three chains ran at once: payments were listed before the customers were done.
    listed = [c.path for c in world.router.calls if c.host == httpx.URL(GOCARDLESS).host]
    assert listed.index("/payments") < len(listed) - 1 - listed[::-1].index("/customers")
    assert [(c.name, c.done, c.listed) for c in await chains(world)] == [
        ("customers", True, 2_500),
        ("mandates", True, len(seeded.mandates)),
        ("payments", True, 6_000),
    ]


async def test_payments_listed_in_windows_each_once(world: World) -> None:
    installed = await connect(world)
    seed_gocardless(world.gocardless, world.merchant, customers=2_500, payments=6_000)
    world.router.forget_calls()

    status = await sync_now(world, installed)

    assert status["state"] == "succeeded"
    assert (status["customers_listed"], status["payments_listed"]) == (2_500, 6_000)
    windows = [c for c in await chains(world) if c.resource == "payments"]
    assert 2 <= len(windows) <= world.settings.sync_payment_windows
    # The windows tile time: each new one took the part below a split point.
    # (By the upper bound: the oldest window has no lower one, and None does not sort.)
    bounds = sorted(
        ((c.created_from, c.created_before) for c in windows if c.created_before),
        key=lambda bound: bound[1],
    )
    assert [c.created_before for c in windows].count(None) == 1
    for (low, _), (_, high) in zip(bounds[1:], bounds[:-1], strict=True):
        assert low == high or low is None
    # A window costs its own last page, and a split at most the page it had in flight.
    pages = sum(c.pages for c in windows)
    assert world.listings("payments") == pages
    assert pages <= ceil(6_000 / GC_PAGE) + 2 * (len(windows) - 1)
    # The CRM side is still at the minimum: one upsert per 100 records.
    assert world.upserts(CUSTOMERS) == ceil(2_500 / CRM_BATCH)
    assert world.upserts(PAYMENTS) == ceil(6_000 / CRM_BATCH)
    assert crm_record_count(world, PAYMENTS) == 6_000
    assert_crm_matches_gocardless(world)


async def test_progress_shows_each_chain_and_the_crm_writes(world: World) -> None:
    installed = await connect(world)
    seed_gocardless(world.gocardless, world.merchant, customers=600, payments=1_200)

    status = await sync_now(world, installed)

    assert (status["progress"], status["seconds_left"]) == (1.0, 0)
    by_name = {c["name"]: c for c in status["chains"]}
    assert by_name["customers"] | {"created_from": None} == {
        "name": "customers",
        "resource": "customers",
        "created_from": None,
        "created_before": None,
        "listed": 600,
        "pages": 2,
        "pages_left": 0,
        "done": True,
    }
    assert sum(c["listed"] for c in status["chains"] if c["resource"] == "payments") == 1_200
    assert status["crm_writes"] == {
        "customers": {"written": 600, "rejected": 0, "waiting": 0, "expected": 600},
        "payments": {"written": 1_200, "rejected": 0, "waiting": 0, "expected": 1_200},
    }


async def test_sync_now_counts_stay_fixed_and_later_records_count_apart(world: World) -> None:
    installed = await connect(world)
    seed_gocardless(world.gocardless, world.merchant, customers=30, payments=40)
    done = await sync_now(world, installed)
    assert (done["customers_synced"], done["payments_synced"]) == (30, 40)

    # A new payer signs up and pays after Sync Now: webhooks bring both to the CRM.
    merchant = Merchant(world)
    try:
        mandate = await merchant.new_customer(
            given_name="Late", family_name="Payer", email="late.payer@example.com"
        )
        await merchant.create_payment(mandate, 1_000, "GBP")
    finally:
        await merchant.aclose()
    await settle(world)

    later = await sync_status(world, installed)
    assert crm_record_count(world, CUSTOMERS) == 31
    assert (later["customers_synced"], later["payments_synced"]) == (30, 40)
    assert (later["customers_added_since"], later["payments_added_since"]) == (1, 1)
    assert later["crm_writes"]["customers"] == {
        "written": 30,
        "rejected": 0,
        "waiting": 0,
        "expected": 30,
    }


async def test_sync_now_is_offered_once(world: World) -> None:
    installed = await connect(world)
    seed_gocardless(world.gocardless, world.merchant, customers=3, payments=5)
    await sync_now(world, installed)
    again = await world.client.post(
        "/api/v1/installation/sync", headers=world.widget_headers(installed)
    )
    assert again.status_code == 409 and again.json()["code"] == "sync_already_done"


async def test_what_happens_during_sync_now_is_replayed_and_processed(world: World) -> None:
    """Webhooks sent while Sync Now runs may all be lost; the replay of GoCardless's events
    at its end still brings those changes in, within the same worker drain."""
    installed = await connect(world)
    seed_gocardless(world.gocardless, world.merchant, customers=40, payments=120)
    payment = next(p for p in world.merchant.payments.newest_first() if p.status == "paid_out")
    world.gocardless.dispatcher.configure(FAST_DELIVERY.model_copy(update={"drop_rate": 1.0}))

    async def bank_charges_back() -> None:
        response = await world.client.post(
            f"{GOCARDLESS}/_sim/payments/{payment.id}/status", json={"status": "charged_back"}
        )
        assert response.status_code == 200

    # After the payments were listed, before the sync ends.
    world.router.trip("POST", f"{ZOHO}/crm/v8/{CUSTOMERS}/upsert", nth=1, action=bank_charges_back)
    assert (await sync_now(world, installed))["state"] == "succeeded"

    assert await work_left(world) == {}
    assert payment.status == "charged_back"
    assert_crm_matches_gocardless(world)
