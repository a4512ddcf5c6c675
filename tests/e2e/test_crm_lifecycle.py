"""A payment's life after collection, as the CRM shows it: what the backfill writes without
firing CRM workflows, failure reasons, refunds and payouts on the payment record, a Note and
a Task on the invoice when a payment fails, and the invoice's status kept in step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select, update

from app.models import EventStatus, InboxEvent
from app.simulators.zoho.faults import FaultRule
from tests.e2e.harness import (
    PAYMENTS,
    ZOHO,
    Crash,
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


@dataclass
class Collecting:
    world: World
    installed: Installed
    merchant: Merchant
    invoice_id: str
    mandate_id: str

    async def pay(self) -> str:
        response = await self.world.client.post(
            f"/api/v1/invoices/{self.invoice_id}/payments",
            headers=self.world.widget_headers(self.installed),
            json={"mandate_id": self.mandate_id},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["payment"]["id"])

    def invoice(self) -> dict[str, object]:
        invoices = self.world.crm_org.store("Invoices")
        assert invoices is not None
        return invoices.records[self.invoice_id]

    def notes(self) -> list[dict[str, object]]:
        store = self.world.crm_org.store("Notes")
        assert store is not None
        return [n for n in store.records.values() if n.get("Parent_Id") == self.invoice_id]

    def tasks(self) -> list[dict[str, object]]:
        store = self.world.crm_org.store("Tasks")
        assert store is not None
        return [t for t in store.records.values() if t.get("What_Id") == self.invoice_id]


@pytest.fixture
async def collecting(world: World) -> AsyncIterator[Collecting]:
    """Jane Doe has an active Bacs mandate; her GBP invoice (owned by Sam) waits."""
    installed = await connect(world)
    assert (await sync_now(world, installed))["state"] == "succeeded"
    merchant = Merchant(world)
    mandate = await merchant.new_customer(
        given_name="Jane", family_name="Doe", email="jane.doe@example.com"
    )
    await merchant.days_pass(10)
    await settle(world)
    invoices = world.crm_org.store("Invoices")
    assert invoices is not None
    invoice = next(r for r in invoices.records.values() if r["Subject"] == "Website redesign")
    # The invoice belongs to someone else than the user whose token writes to the CRM.
    sam = next(u.id for u in world.crm_org.users.values() if u.first_name == "Sam")
    invoice["Owner"] = sam
    yield Collecting(world, installed, merchant, invoice["id"], mandate)
    await merchant.aclose()


async def test_a_failure_adds_one_note_and_one_task_per_event(collecting: Collecting) -> None:
    world = collecting.world
    payment_id = await collecting.pay()
    # The first Note reaches the CRM, then the worker dies before it can record that.
    world.router.trip("POST", f"{ZOHO}/crm/v8/Notes", nth=1, after_response=True)
    await collecting.merchant.bank_moves_payment(payment_id, "failed")
    with pytest.raises(BaseException) as died:
        await settle(world)
    assert (
        died.group_contains(Crash)
        if isinstance(died.value, BaseExceptionGroup)
        else isinstance(died.value, Crash)
    )
    await settle(world)

    (note,) = collecting.notes()
    assert note["Note_Title"] == "Direct Debit payment failed"
    content = str(note["Note_Content"])
    assert payment_id in content and "£120.00" in content
    assert "insufficient funds" in content and "Retry it" in content
    (task,) = collecting.tasks()
    assert task["$se_module"] == "Invoices"
    assert task["Owner"] == collecting.invoice()["Owner"]
    assert "contact the customer" in str(task["Description"])

    # GoCardless delivers the same event again, and processing runs again: nothing new.
    async with world.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(InboxEvent).values(status=EventStatus.pending.value))
    await settle(world)
    assert len(collecting.notes()) == 1 and len(collecting.tasks()) == 1

    # A charge-back of the retried payment is another event: one more of each, in its words.
    retried = await world.client.post(
        f"/api/v1/payments/{payment_id}/retry", headers=world.widget_headers(collecting.installed)
    )
    assert retried.status_code == 200, retried.text
    await collecting.merchant.bank_moves_payment(payment_id, "paid_out")
    await collecting.merchant.bank_moves_payment(payment_id, "charged_back")
    await settle(world)
    notes = collecting.notes()
    assert len(notes) == 2 and len(collecting.tasks()) == 2
    assert {n["Note_Title"] for n in notes} == {
        "Direct Debit payment failed",
        "Direct Debit payment charged back",
    }


async def patch_settings(collecting: Collecting, body: dict[str, object]) -> httpx.Response:
    return await collecting.world.client.patch(
        "/api/v1/installation",
        headers=collecting.world.widget_headers(collecting.installed),
        json=body,
    )


async def test_reconciliation_keeps_the_invoice_status_in_step(collecting: Collecting) -> None:
    world, merchant = collecting.world, collecting.merchant
    # Off by default: a collected payment leaves the invoice's Status alone.
    first = await collecting.pay()
    await merchant.bank_moves_payment(first, "confirmed")
    await settle(world)
    assert collecting.invoice()["Status"] == "Approved"

    # Values come from the org's own Status picklist (read from the CRM's field metadata).
    refused = await patch_settings(collecting, {"invoice_status_on_collection": "Paid"})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "invoice_status_not_in_picklist"
    assert problem["field"] == "invoice_status_on_collection"
    assert "Delivered" in problem["allowed"]
    invoices = world.crm_org.store("Invoices")
    assert invoices is not None
    invoices.module.fields["Status"].pick_list_values += ("Paid",)
    accepted = await patch_settings(
        collecting,
        {
            "invoice_status_on_collection": "Paid",
            "invoice_collected_on": "paid_out",
            "invoice_status_on_failure": "Created",
        },
    )
    assert accepted.status_code == 200, accepted.text
    settings = accepted.json()
    assert (
        settings["invoice_status_on_collection"],
        settings["invoice_collected_on"],
        settings["invoice_status_on_failure"],
        settings["auto_collect_on_mandate"],
    ) == ("Paid", "paid_out", "Created", False)

    # Collected means paid out here: confirmed alone changes nothing.
    await merchant.bank_moves_payment(first, "paid_out")
    await settle(world)
    assert collecting.invoice()["Status"] == "Paid"
    # A charge-back sets it back.
    await merchant.bank_moves_payment(first, "charged_back")
    await settle(world)
    assert collecting.invoice()["Status"] == "Created"

    # null switches a value off again.
    off = await patch_settings(collecting, {"invoice_status_on_collection": None})
    assert off.status_code == 200 and off.json()["invoice_status_on_collection"] is None


async def refund(collecting: Collecting, payment_id: str, amount: object) -> httpx.Response:
    return await collecting.world.client.post(
        f"/api/v1/payments/{payment_id}/refunds",
        headers=collecting.world.widget_headers(collecting.installed),
        json={"amount": amount},
    )


async def test_refunds_from_the_widget_never_give_back_twice(collecting: Collecting) -> None:
    world, merchant = collecting.world, collecting.merchant
    payment_id = await collecting.pay()
    early = await refund(collecting, payment_id, 1_000)
    assert (early.status_code, early.json()["code"]) == (409, "payment_not_refundable")
    await merchant.bank_moves_payment(payment_id, "confirmed")
    await settle(world)
    disabled = await refund(collecting, payment_id, 1_000)
    assert (disabled.status_code, disabled.json()["code"]) == (409, "refunds_not_enabled")
    world.merchant.creditor.can_create_refunds = True
    for bad in (0, -5, "10", 1.5, None):
        invalid = await refund(collecting, payment_id, bad)
        assert (invalid.status_code, invalid.json()["code"]) == (422, "validation_failed"), bad
    too_much = await refund(collecting, payment_id, 12_001)
    assert (too_much.status_code, too_much.json()["code"]) == (422, "refund_exceeds_payment")
    assert too_much.json()["refundable"] == 12_000

    # A double click: two requests at once give back once.
    first, second = await asyncio.gather(
        refund(collecting, payment_id, 3_000), refund(collecting, payment_id, 3_000)
    )
    assert sorted((first.status_code, second.status_code)) == [200, 201], (first.text, second.text)
    assert first.json()["refund"]["id"] == second.json()["refund"]["id"]
    assert first.json()["refund"]["amount"] == 3_000
    # Asked again a moment later (a retried request): still the same refund.
    again = await refund(collecting, payment_id, 3_000)
    assert again.status_code == 200 and again.json() == first.json()
    made = [r for r in world.merchant.refunds.newest_first() if r.payment == payment_id]
    assert [r.amount for r in made] == [3_000]

    # The rest, in another amount, is another refund; then nothing is left.
    rest = await refund(collecting, payment_id, 9_000)
    assert rest.status_code == 201, rest.text
    nothing = await refund(collecting, payment_id, 1)
    assert (nothing.status_code, nothing.json()["refundable"]) == (422, 0)
    assert world.merchant.payments.get(payment_id).amount_refunded == 12_000  # type: ignore[union-attr]
    await settle(world)
    assert str(crm_payment(world, payment_id)["Amount_Refunded"]) == "120.00"
    assert_crm_matches_gocardless(world)


async def test_a_task_for_an_owner_who_has_left_goes_to_the_authorizing_user(
    collecting: Collecting,
) -> None:
    world = collecting.world
    departed = next(u.id for u in world.crm_org.users.values() if u.status != "active")
    collecting.invoice()["Owner"] = departed
    payment_id = await collecting.pay()
    await collecting.merchant.bank_moves_payment(payment_id, "failed")
    await settle(world)
    (task,) = collecting.tasks()
    assert task["Owner"] == world.crm_org.admin_user_id
    assert len(collecting.notes()) == 1


async def test_a_crm_outage_delays_the_note_and_parks_nothing(collecting: Collecting) -> None:
    world = collecting.world
    payment_id = await collecting.pay()
    # Longer than the eight attempts an event may use: the Note waits for the CRM instead.
    world.zoho.faults.append(FaultRule(path_contains="/Notes", status=503, count=12))
    await collecting.merchant.bank_moves_payment(payment_id, "failed")
    await settle(world, rounds=30)
    assert len(collecting.notes()) == 1 and len(collecting.tasks()) == 1
    async with world.runtime.sessionmaker() as session:
        parked = await session.scalar(
            select(func.count()).where(InboxEvent.status == EventStatus.failed.value)
        )
    assert parked == 0
    assert crm_payment(world, payment_id)["Status"] == "failed"
