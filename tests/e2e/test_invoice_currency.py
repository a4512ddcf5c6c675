"""Invoice currencies: orgs without multi-currency (their invoices carry no Currency) collect
in the org's home currency; a mandate is usable only in the invoice's currency, and with
none usable the setup link is for the invoice's currency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import ZohoConnection
from tests.e2e.harness import World, connect, open_world, settle, sync_now
from tests.e2e.merchant import Merchant
from tests.foundation.conftest import Installed


@pytest.fixture
async def single_currency_world(clean_db: AsyncEngine) -> AsyncIterator[World]:
    async with open_world(clean_db, multi_currency=False) as world:
        yield world


async def jane_with_a_bacs_mandate(world: World) -> tuple[Installed, str]:
    installed = await connect(world)
    assert (await sync_now(world, installed))["state"] == "succeeded"
    merchant = Merchant(world)
    mandate = await merchant.new_customer(
        given_name="Jane", family_name="Doe", email="jane.doe@example.com"
    )
    await merchant.days_pass(10)
    await merchant.aclose()
    await settle(world)
    return installed, mandate


def invoice_id(world: World, subject: str) -> str:
    invoices = world.crm_org.store("Invoices")
    assert invoices is not None
    return next(r["id"] for r in invoices.records.values() if r["Subject"] == subject)


async def popup(world: World, installed: Installed, invoice: str) -> dict[str, Any]:
    response = await world.client.get(
        f"/api/v1/invoices/{invoice}/mandates", headers=world.widget_headers(installed)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_org_without_multi_currency_collects_in_its_home_currency(
    single_currency_world: World,
) -> None:
    world = single_currency_world
    installed, mandate = await jane_with_a_bacs_mandate(world)
    async with world.runtime.sessionmaker() as session:
        stored = await session.scalar(select(ZohoConnection.home_currency))
    assert stored == "GBP"  # read from GET /crm/v8/org at authorization
    invoice = invoice_id(world, "Website redesign")
    record = world.crm_org.store("Invoices").records[invoice]  # type: ignore[union-attr]
    assert "Currency" not in record

    shown = await popup(world, installed, invoice)
    assert (shown["invoice"]["total"], shown["invoice"]["currency"]) == ("120.00", "GBP")
    assert [(m["id"], m["usable"]) for m in shown["mandates"]] == [(mandate, True)]
    created = await world.client.post(
        f"/api/v1/invoices/{invoice}/payments",
        headers=world.widget_headers(installed),
        json={"mandate_id": mandate},
    )
    assert created.status_code == 201, created.text
    payment = created.json()["payment"]
    assert (payment["amount"], payment["currency"]) == (12000, "GBP")


async def test_no_mandate_in_the_invoices_currency_means_a_setup_link_in_it(
    world: World,
) -> None:
    installed, mandate = await jane_with_a_bacs_mandate(world)
    invoice = invoice_id(world, "Annual licence")  # Jane's EUR invoice; her mandate is Bacs

    shown = await popup(world, installed, invoice)
    assert shown["invoice"]["currency"] == "EUR"
    assert [(m["id"], m["currency"], m["usable"]) for m in shown["mandates"]] == [
        (mandate, "GBP", False)
    ]
    sent = await world.client.post(
        f"/api/v1/invoices/{invoice}/mandate-requests", headers=world.widget_headers(installed)
    )
    assert sent.status_code == 201, sent.text
    (request,) = [
        r
        for r in world.merchant.billing_requests.newest_first()
        if r.metadata.get("zoho_invoice_id") == invoice
    ]
    assert request.currency == "EUR"
