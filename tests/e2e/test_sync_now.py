"""Sync Now against both simulators: every record lands once, with the fewest calls."""

from __future__ import annotations

from math import ceil

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
    seed_gocardless,
    sync_now,
    work_left,
)

GC_PAGE = 500
CRM_BATCH = 100


async def test_initial_sync_uses_the_minimum_number_of_calls(world: World) -> None:
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
    assert_crm_matches_gocardless(world)


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
