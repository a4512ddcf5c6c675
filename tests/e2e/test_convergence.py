"""The convergence test: a seeded storm of changes on GoCardless (payments, failures, retries,
refunds, payouts), delivered with duplicates, reordering and drops, with faults injected on
both sides, while the worker runs now and then. When the storm has passed and catch-up has
healed the drops, the CRM's two modules equal GoCardless's state, record for record, and
nothing is left pending."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from app.jobs.worker import drain
from app.models import GcMandate, InboxEvent
from app.services.catch_up import catch_up_all
from app.simulators.common import FaultConfig
from app.simulators.zoho.faults import FaultRule
from tests.e2e.harness import (
    FAST_DELIVERY,
    World,
    assert_crm_matches_gocardless,
    connect,
    deliver_webhooks,
    let_time_pass,
    seed_gocardless,
    settle,
    sync_now,
    work_left,
)
from tests.e2e.merchant import Merchant
from tests.e2e.storm import Storm

ROUNDS = 30


async def inbox_ids(world: World) -> set[str | None]:
    async with world.runtime.sessionmaker() as session:
        return set((await session.scalars(select(InboxEvent.event_id))).all())


CHAOS = FAST_DELIVERY.model_copy(update={"drop_rate": 0.2, "duplicate_rate": 0.3, "reorder": True})


@pytest.mark.parametrize("seed", [11, 2026])
async def test_a_storm_of_changes_converges(world: World, seed: int) -> None:
    rng = random.Random(seed)
    seed_gocardless(world.gocardless, world.merchant, customers=60, payments=200, seed=seed)
    installed = await connect(world)
    assert (await sync_now(world, installed))["state"] == "succeeded"

    world.gocardless.failure_rate = 0.2  # the bank fails some collections on its own
    world.merchant.creditor.can_create_refunds = True
    world.gocardless.dispatcher.configure(CHAOS)
    # Every GoCardless API caller (our worker and the merchant) meets 5xx and 429 answers.
    world.gocardless.faults.configure(FaultConfig(server_error_rate=0.1, rate_limit_rate=0.05))
    merchant = Merchant(world)
    storm = Storm(merchant, rng)
    for round_ in range(ROUNDS):
        for _ in range(rng.randint(2, 8)):
            await storm.step()
        if rng.random() < 0.25:
            world.zoho.faults.append(
                FaultRule(
                    path_contains="/upsert",
                    status=rng.choice((429, 500, 503)),
                    count=rng.randint(1, 12),
                )
            )
        if rng.random() < 0.7:  # the worker keeps up part of the time
            await deliver_webhooks(world)
            await drain(world.runtime)
        # The periodic catch-up runs too, though not in the storm's last third.
        if round_ < ROUNDS * 2 // 3 and rng.random() < 0.2:
            await catch_up_all(world.runtime)
        if rng.random() < 0.3:
            await let_time_pass(world)
    await merchant.aclose()
    kinds = ("new_payer", "new_payment", "bank_moves", "refund", "refund_bounces")
    assert min(storm.done.get(kind, 0) for kind in kinds) > 0, storm.done
    assert len(world.merchant.payouts) > 0, "no payment was paid out in a payout"
    dropped = [d for d in world.gocardless.dispatcher.deliveries() if d.state == "dropped"]
    assert dropped and any(d.duplicate for d in world.gocardless.dispatcher.deliveries())

    # The storm passes. What the worker has seen so far is not the whole story...
    world.gocardless.dispatcher.configure(FAST_DELIVERY)
    world.gocardless.faults.reset()
    world.zoho.faults.clear()
    await settle(world)
    unseen = {e.id for e in world.merchant.events.newest_first()} - await inbox_ids(world)
    assert unseen, "the storm should have dropped some webhooks"
    # ...until catch-up reads the events list.
    assert await catch_up_all(world.runtime) == len(unseen)
    await settle(world)

    assert await work_left(world) == {}
    assert_crm_matches_gocardless(world)
    # Every replacement is known here too, so popups offer the new mandates.
    async with world.runtime.sessionmaker() as session:
        ours = dict((await session.execute(select(GcMandate.id, GcMandate.new_mandate_id))).all())
    replaced = {
        m.id: m.new_mandate for m in world.merchant.mandates.newest_first() if m.new_mandate
    }
    assert replaced and {m: ours.get(m) for m in replaced} == replaced
