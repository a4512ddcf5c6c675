"""CRM writes that must not go wrong quietly: a record whose Invoice was deleted in the CRM
is written without that lookup, and an older upsert finishing after a newer one never leaves
the older data in the CRM marked as synced."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update

from app.models import GcPayment, Lease, ZohoConnection
from app.services import leases
from app.services.crm.push import push_payments
from app.services.events.processing import process_due_events
from app.services.leases import HeldLease, LeaseLost
from app.services.providers import zoho_crm
from tests.e2e.harness import (
    PAYMENTS,
    ZOHO,
    World,
    connect,
    deliver_webhooks,
    settle,
    sync_now,
)
from tests.e2e.merchant import Merchant
from tests.foundation.conftest import Installed


async def invoice_payment(world: World) -> tuple[Installed, str, str]:
    """Jane's GBP invoice collected through our API; returns (installed, invoice, payment)."""
    installed = await connect(world)
    assert (await sync_now(world, installed))["state"] == "succeeded"
    async with Merchant(world) as merchant:
        mandate = await merchant.new_customer(
            given_name="Jane", family_name="Doe", email="jane.doe@example.com"
        )
        await merchant.days_pass(10)
    await settle(world)
    invoices = world.crm_org.store("Invoices")
    assert invoices is not None
    invoice = next(r["id"] for r in invoices.records.values() if r["Subject"] == "Website redesign")
    created = await world.client.post(
        f"/api/v1/invoices/{invoice}/payments",
        headers=world.widget_headers(installed),
        json={"mandate_id": mandate},
    )
    assert created.status_code == 201, created.text
    return installed, invoice, created.json()["payment"]["id"]


def crm_payment(world: World, payment_id: str) -> dict[str, Any]:
    store = world.crm_org.store(PAYMENTS)
    assert store is not None
    return next(r for r in store.records.values() if r["GoCardless_Payment_ID"] == payment_id)


async def mirror_row(world: World, installed: Installed, payment_id: str) -> GcPayment:
    async with world.runtime.sessionmaker() as session:
        row = await session.get(GcPayment, (installed.installation_id, payment_id))
    assert row is not None
    return row


async def test_a_deleted_invoice_does_not_keep_its_payment_out_of_the_crm(world: World) -> None:
    installed, invoice, payment_id = await invoice_payment(world)
    assert invoice in str(crm_payment(world, payment_id)["Invoice"])
    world.crm_org.store("Invoices").records.pop(invoice)  # type: ignore[union-attr]

    async with Merchant(world) as bank:
        await bank.bank_moves_payment(payment_id, "confirmed")
    await settle(world)

    record = crm_payment(world, payment_id)
    assert record["Status"] == "confirmed"
    assert record.get("Invoice") is None
    row = await mirror_row(world, installed, payment_id)
    assert (row.crm_state, row.crm_error) == ("synced", None)


async def test_an_older_upsert_landing_late_is_written_again(world: World) -> None:
    installed, _, payment_id = await invoice_payment(world)
    async with world.runtime.sessionmaker() as session:
        zoho = await session.get(ZohoConnection, installed.installation_id)
    assert zoho is not None
    crm = zoho_crm(world.runtime, zoho)

    async with Merchant(world) as bank:
        await bank.bank_moves_payment(payment_id, "submitted")
        await settle_events_only(world)

        async def newer_version_overtakes() -> None:
            # While the "submitted" upsert is on its way, the payment is confirmed and that
            # newer version reaches the CRM first.
            await bank.bank_moves_payment(payment_id, "confirmed")
            await settle_events_only(world)
            await push_payments(world.runtime, crm, installed.installation_id, max_batches=5)
            assert crm_payment(world, payment_id)["Status"] == "confirmed"

        overtaken: list[bool] = []

        async def overtake_once() -> None:
            await newer_version_overtakes()
            overtaken.append(True)

        world.router.trip("POST", f"{ZOHO}/crm/v8/{PAYMENTS}/upsert", nth=1, action=overtake_once)
        await push_payments(world.runtime, crm, installed.installation_id, max_batches=5)
    assert overtaken == [True]

    # The late, older write left "submitted" in the CRM: the row is due again, not synced.
    assert crm_payment(world, payment_id)["Status"] == "submitted"
    assert (await mirror_row(world, installed, payment_id)).crm_state == "pending"
    await settle(world)
    assert crm_payment(world, payment_id)["Status"] == "confirmed"
    assert (await mirror_row(world, installed, payment_id)).crm_state == "synced"


async def test_a_push_that_lost_its_lease_records_nothing_and_stops(world: World) -> None:
    """Outcomes are recorded in autocommit statements, the lease checked within each: a
    process that lost the lease mid-batch leaves the row to the new owner."""
    installed, _, payment_id = await invoice_payment(world)
    async with world.runtime.sessionmaker() as session:
        zoho = await session.get(ZohoConnection, installed.installation_id)
    assert zoho is not None
    async with Merchant(world) as bank:
        await bank.bank_moves_payment(payment_id, "confirmed")
        await settle_events_only(world)
    name = f"sync:{installed.installation_id}"
    owner = await leases.acquire(world.runtime, name)
    assert owner is not None

    async def another_worker_takes_over() -> None:
        async with world.runtime.sessionmaker() as session, session.begin():
            await session.execute(update(Lease).where(Lease.name == name).values(owner=owner + 1))

    world.router.trip(
        "POST", f"{ZOHO}/crm/v8/{PAYMENTS}/upsert", nth=1, action=another_worker_takes_over
    )
    with pytest.raises(LeaseLost):
        await push_payments(
            world.runtime,
            zoho_crm(world.runtime, zoho),
            installed.installation_id,
            max_batches=5,
            lease=HeldLease(name, owner, asyncio.Event()),
        )

    assert crm_payment(world, payment_id)["Status"] == "confirmed"  # the upsert went
    assert (await mirror_row(world, installed, payment_id)).crm_state == "pending"


async def settle_events_only(world: World) -> None:
    """Deliver the webhooks and store what they name, without pushing to the CRM."""
    await deliver_webhooks(world)
    while await process_due_events(world.runtime):
        pass
