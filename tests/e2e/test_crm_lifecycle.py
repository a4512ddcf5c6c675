"""A payment's life after collection, as the CRM shows it: what the backfill writes without
firing CRM workflows, failure reasons, refunds and payouts on the payment record, a Note and
a Task on the invoice when a payment fails, and the invoice's status kept in step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.e2e.harness import (
    PAYMENTS,
    World,
    assert_crm_matches_gocardless,
    connect,
    seed_gocardless,
    settle,
    sync_now,
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
    seed_gocardless(world.gocardless, world.merchant, customers=8, payments=20)
    installed = await connect(world)
    assert (await sync_now(world, installed))["state"] == "succeeded"
    merchant = Merchant(world)
    yield Live(world, installed, merchant)
    await merchant.aclose()


def payment_writes(world: World) -> list[tuple[str, ...] | None]:
    module = world.settings.zoho_namespace + PAYMENTS
    return [w.trigger for w in world.zoho.writes if w.module == module]


async def test_sync_now_writes_without_workflows_and_real_time_keeps_them(live: Live) -> None:
    world = live.world
    synced = payment_writes(world)
    assert synced, "Sync Now wrote no payments"
    assert set(synced) == {()}, "the backfill must not fire CRM workflows"
    customers = [
        w.trigger
        for w in world.zoho.writes
        if w.module == world.settings.zoho_namespace + "GoCardless_Customers"
    ]
    assert customers and set(customers) == {()}

    mandate = await live.merchant.new_customer(
        given_name="Ada", family_name="Lovelace", email="ada@example.org"
    )
    await live.merchant.create_payment(mandate, 4_200, "GBP")
    await settle(world)
    real_time = payment_writes(world)[len(synced) :]
    assert real_time and set(real_time) == {("workflow",)}
    assert_crm_matches_gocardless(world)


def crm_payment(world: World, payment_id: str) -> dict[str, object]:
    ns = world.settings.zoho_namespace
    store = world.crm_org.store(ns + PAYMENTS)
    assert store is not None
    (record,) = [
        r for r in store.records.values() if r.get(f"{ns}GoCardless_Payment_ID") == payment_id
    ]
    return {key.removeprefix(ns): value for key, value in record.items()}


async def test_refunds_payouts_and_failures_reach_the_payment_record(live: Live) -> None:
    world, merchant = live.world, live.merchant
    world.merchant.creditor.can_create_refunds = True
    mandate = await merchant.new_customer(
        given_name="Grace", family_name="Hopper", email="grace@example.org"
    )
    paid = await merchant.create_payment(mandate, 10_000, "GBP")
    failing = await merchant.create_payment(mandate, 2_500, "GBP")
    await merchant.bank_moves_payment(paid, "paid_out")
    await merchant.bank_moves_payment(failing, "failed")
    await settle(world)

    payout = world.merchant.payouts.get(world.merchant.payments.get(paid).payout)  # type: ignore[union-attr]
    assert payout is not None
    record = crm_payment(world, paid)
    assert record["Payout_Date"] == payout.arrival_date.isoformat()
    assert record["Amount_Refunded"] == 0
    assert record.get("Failure_Reason") is None
    assert crm_payment(world, failing)["Failure_Reason"] == (
        "insufficient funds: The customer's account had insufficient funds to make this payment."
    )

    refund = await merchant.api(
        "POST",
        "/refunds",
        {
            "refunds": {
                "amount": 3_000,
                "total_amount_confirmation": 3_000,
                "links": {"payment": paid},
            }
        },
        create=True,
    )
    await settle(world)
    assert str(crm_payment(world, paid)["Amount_Refunded"]) == "30.00"
    # The customer's bank sends the refund back: nothing stays refunded.
    response = await merchant.http.post(f"/_sim/refunds/{refund['refunds']['id']}/fail")
    assert response.status_code == 200, response.text
    await settle(world)
    assert str(crm_payment(world, paid)["Amount_Refunded"]) == "0.00"
    # The payout's own event (paid on its arrival date) changes nothing that is already true.
    await merchant.days_pass(3)
    await settle(world)
    assert world.merchant.payouts.get(payout.id).status == "paid"  # type: ignore[union-attr]
    assert_crm_matches_gocardless(world)
