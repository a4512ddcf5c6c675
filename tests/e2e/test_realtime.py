"""After Sync Now, changes reach the CRM through webhooks delivered badly: duplicated, out
of order, dropped (healed by catch-up), while the CRM is down, or during Sync Now itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.jobs.worker import drain
from app.models import EventStatus, GcCustomer, GcPayment, InboxEvent
from app.services.catch_up import catch_up_all
from app.simulators.zoho.faults import FaultRule
from tests.e2e.harness import (
    FAST_DELIVERY,
    GOCARDLESS,
    PAYMENTS,
    World,
    assert_crm_matches_gocardless,
    connect,
    crm_mismatches,
    deliver_webhooks,
    let_time_pass,
    seed_gocardless,
    settle,
    start_sync,
    sync_now,
    work_left,
)
from tests.e2e.merchant import Merchant
from tests.foundation.conftest import Installed


@dataclass
class Live:
    world: World
    installed: Installed
    merchant: Merchant


@pytest.fixture
async def live(world: World) -> AsyncIterator[Live]:
    """Synced once, with a few payments still on their way through the bank."""
    seed_gocardless(world.gocardless, world.merchant, customers=30, payments=80)
    installed = await connect(world)
    assert (await sync_now(world, installed))["state"] == "succeeded"
    merchant = Merchant(world)
    yield Live(world, installed, merchant)
    await merchant.aclose()


async def inbox(world: World) -> list[InboxEvent]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(InboxEvent).order_by(InboxEvent.pk))).all())


async def make_changes(live: Live) -> dict[str, str]:
    """A new payer and payment, a collection that completes and one that fails late."""
    merchant, org = live.merchant, live.world.merchant
    late = next(p.id for p in org.payments.newest_first() if p.status == "paid_out")
    await merchant.bank_moves_payment(late, "charged_back")
    mandate = await merchant.new_customer(
        given_name="Jane", family_name="Doe", email="jane.doe@example.com"
    )
    new = await merchant.create_payment(mandate, 12_345, "GBP")
    settled = await merchant.create_payment(mandate, 500, "GBP")
    await merchant.bank_moves_payment(settled, "paid_out")
    await merchant.days_pass(4)
    return {"new": new, "settled": settled, "late": late}


async def test_duplicated_and_reordered_webhooks_end_in_the_latest_state(live: Live) -> None:
    world = live.world
    # One batch window long enough to gather every change, so they are shuffled together.
    world.gocardless.dispatcher.configure(
        FAST_DELIVERY.model_copy(
            update={"duplicate_rate": 1.0, "reorder": True, "batch_window_seconds": 1.0}
        )
    )
    changed = await make_changes(live)
    await settle(world)

    deliveries = world.gocardless.dispatcher.deliveries()
    assert sum(d.duplicate for d in deliveries) == len(deliveries) // 2 > 0
    assert {d.state for d in deliveries} == {"delivered"}
    events = await inbox(world)
    # Each event stored once, whatever arrived twice, and all of them acted on.
    assert len(events) == len({e.event_id for e in events}) == len(world.merchant.events)
    assert {e.status for e in events} <= {EventStatus.processed, EventStatus.ignored}
    # The events really did arrive out of order...
    emitted = [e.id for e in reversed(list(world.merchant.events.newest_first()))]
    arrival = [emitted.index(e.event_id) for e in events]
    assert arrival != sorted(arrival)
    # ...and the CRM shows where each payment really is.
    crm = {r["GoCardless_Payment_ID"]: r for r in world.crm_org.store(PAYMENTS).records.values()}  # type: ignore[union-attr]
    assert crm[changed["settled"]]["Status"] == "paid_out"
    assert crm[changed["late"]]["Status"] == "charged_back"
    assert_crm_matches_gocardless(world)


async def test_dropped_webhooks_are_healed_by_catch_up(live: Live) -> None:
    world = live.world
    world.gocardless.dispatcher.configure(FAST_DELIVERY.model_copy(update={"drop_rate": 1.0}))
    await make_changes(live)
    await settle(world)
    assert await inbox(world) == []
    stale = crm_mismatches(world)
    assert any("missing from the CRM" in problem for problem in stale), stale

    world.gocardless.dispatcher.configure(FAST_DELIVERY)
    found = await catch_up_all(world.runtime)
    assert found == len(world.merchant.events)
    assert await catch_up_all(world.runtime) == 0  # nothing new the second time
    await settle(world)
    assert {e.source for e in await inbox(world)} == {"catch_up"}
    assert_crm_matches_gocardless(world)


async def test_nothing_is_lost_while_the_crm_is_down(live: Live) -> None:
    world = live.world
    world.zoho.faults.append(FaultRule(path_contains="/upsert", status=503))
    changed = await make_changes(live)
    # An hour of worker ticks against a CRM that answers every write with a 503.
    for _ in range(4):
        await deliver_webhooks(world)
        await drain(world.runtime)
        await let_time_pass(world)
    left = await work_left(world)
    assert "events_pending" not in left and "events_failed" not in left
    assert left["payments_pending"] >= 3 and left["customers_pending"] == 1
    async with world.runtime.sessionmaker() as session:
        late = await session.get(GcPayment, (live.installed.installation_id, changed["late"]))
        customer = await session.scalar(
            select(GcCustomer).where(GcCustomer.email == "jane.doe@example.com")
        )
    # Tried on every tick, kept pending; the new payer's payments wait for the payer.
    assert late is not None and late.status == "charged_back"
    assert late.crm_state == "pending" and late.crm_attempts >= 3
    assert customer is not None and customer.crm_record_id is None
    assert customer.crm_attempts >= 3
    assert crm_mismatches(world)

    # It comes back, still throttling a little: the client's own retries absorb the 429s.
    world.zoho.faults.clear()
    world.zoho.faults.append(FaultRule(path_contains="/upsert", status=429, count=3))
    await settle(world)
    assert not world.zoho.faults
    assert_crm_matches_gocardless(world)
    async with world.runtime.sessionmaker() as session:
        payment = await session.get(
            GcPayment, (live.installed.installation_id, changed["new"]), populate_existing=True
        )
    assert payment is not None and (payment.crm_state, payment.crm_attempts) == ("synced", 0)


async def test_changes_made_during_sync_now_reach_the_crm(world: World) -> None:
    """A payer sets up a mandate and is charged after the mandates were listed but before the
    payments were: the payment is listed with a mandate the mirror does not know yet."""
    seed_gocardless(world.gocardless, world.merchant, customers=30, payments=80)
    installed = await connect(world)
    merchant = Merchant(world)
    created: list[str] = []

    async def payer_signs_up_and_is_charged() -> None:
        mandate = await merchant.new_customer(
            given_name="Late", family_name="Comer", email="late.comer@example.com"
        )
        created.append(await merchant.create_payment(mandate, 4_200, "GBP"))

    world.router.trip("GET", f"{GOCARDLESS}/payments", nth=1, action=payer_signs_up_and_is_charged)
    await start_sync(world, installed)
    await settle(world)
    await merchant.aclose()

    assert created and created[0] in {p.id for p in world.merchant.payments.newest_first()}
    assert_crm_matches_gocardless(world)
