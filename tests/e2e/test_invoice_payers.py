"""The right payer and the right amount: auto-collect on a new mandate re-reads the invoice
first; customers are a Contact's by email only when no other Contact has that email; the
popup says whose bank account each mandate collects from. Against both simulators."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from app.models import GcCustomer
from tests.e2e.harness import GOCARDLESS, ZOHO, World, connect, settle, sync_now
from tests.e2e.merchant import GBP_ACCOUNT, Merchant
from tests.foundation.conftest import Installed


def invoice_id(world: World, subject: str) -> str:
    invoices = world.crm_org.store("Invoices")
    assert invoices is not None
    return next(r["id"] for r in invoices.records.values() if r["Subject"] == subject)


async def ready(world: World) -> Installed:
    installed = await connect(world)
    assert (await sync_now(world, installed))["state"] == "succeeded"
    return installed


async def popup(world: World, installed: Installed, invoice: str) -> dict[str, Any]:
    response = await world.client.get(
        f"/api/v1/invoices/{invoice}/mandates", headers=world.widget_headers(installed)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def customer_completes_the_emailed_link(
    world: World, installed: Installed, invoice: str
) -> None:
    sent = await world.client.post(
        f"/api/v1/invoices/{invoice}/mandate-requests", headers=world.widget_headers(installed)
    )
    assert sent.status_code == 201, sent.text
    url = sent.json()["mandate_request"]["authorisation_url"]
    flow_id = parse_qs(urlsplit(url).query)["id"][0]
    async with Merchant(world) as payer:
        page = await payer.http.post(
            f"{GOCARDLESS}/billing/static/flow",
            data={
                "id": flow_id,
                "given_name": "Jane",
                "family_name": "Doe",
                "email": "jane.doe@example.com",
                **GBP_ACCOUNT,
            },
        )
    # Done: the payer is sent on to our thank-you page.
    assert page.status_code == 303, page.text


async def auto_collect(world: World, installed: Installed) -> None:
    response = await world.client.patch(
        "/api/v1/installation",
        headers=world.widget_headers(installed),
        json={"auto_collect_on_mandate": True},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("change", "collected"),
    [
        ({}, True),
        ({"Grand_Total": Decimal("150.00")}, False),
        ({"Status": "Cancelled"}, False),
    ],
    ids=["unchanged", "amount-changed", "cancelled"],
)
async def test_auto_collect_rereads_the_invoice_first(
    world: World, change: dict[str, Any], collected: bool
) -> None:
    installed = await ready(world)
    await auto_collect(world, installed)
    invoice = invoice_id(world, "Website redesign")
    await customer_completes_the_emailed_link(world, installed, invoice)
    # After the email went out, someone edits (or cancels) the invoice in the CRM.
    world.crm_org.store("Invoices").records[invoice].update(change)  # type: ignore[union-attr]
    await settle(world)

    payments = [
        p for p in world.merchant.payments.newest_first() if p.metadata.get("zoho_invoice_id")
    ]
    if collected:
        (payment,) = payments
        assert (payment.amount, payment.currency) == (12000, "GBP")
    else:
        assert payments == []
    # The mandate is set up either way and shows in the popup.
    assert [m["usable"] for m in (await popup(world, installed, invoice))["mandates"]] == [True]


async def test_a_shared_email_never_picks_the_payer(world: World) -> None:
    """Pat and Chris Shared have one email; a GoCardless customer with it is neither's."""
    installed = await ready(world)
    async with Merchant(world) as merchant:
        await merchant.new_customer(
            given_name="Chris", family_name="Shared", email="shared.inbox@example.com"
        )
        jane = await merchant.new_customer(
            given_name="Jane", family_name="Doe", email="jane.doe@example.com"
        )
    await settle(world)

    def searches() -> int:
        return world.router.count("GET", f"{ZOHO}/crm/v8/Contacts/search")

    before = searches()
    pats = await popup(world, installed, invoice_id(world, "Shared services"))
    assert (pats["customer"], pats["mandates"]) == (None, [])
    # Chris's customer has Pat's email, unlinked: only Zoho can say the email is shared.
    assert searches() == before + 1

    janes = await popup(world, installed, invoice_id(world, "Website redesign"))
    (mandate,) = janes["mandates"]
    # Jane's customer is linked to her Contact (by the webhook's refresh): no search needed.
    assert searches() == before + 1
    assert mandate["id"] == jane
    bank = world.merchant.bank_accounts.newest_first()
    account = next(a for a in bank if a.customer == janes["customer"]["id"])
    assert mandate["payer"] == {
        "name": "Jane Doe",
        "bank_name": account.bank_name,
        "account_number_ending": GBP_ACCOUNT["account_number"][-2:],
        "account_holder_name": account.account_holder_name,
    }


async def _janes_payment(world: World, *, linked: bool) -> list[str]:
    """Proceed on Jane's invoice with her mandate; returns what it asked of Zoho's Contacts."""
    installed = await ready(world)
    async with Merchant(world) as merchant:
        mandate = await merchant.new_customer(
            given_name="Jane", family_name="Doe", email="jane.doe@example.com"
        )
    await settle(world)
    if not linked:
        async with world.runtime.sessionmaker() as session, session.begin():
            await session.execute(update(GcCustomer).values(contact_id=None))
    world.router.calls.clear()
    created = await world.client.post(
        f"/api/v1/invoices/{invoice_id(world, 'Website redesign')}/payments",
        headers=world.widget_headers(installed),
        json={"mandate_id": mandate},
    )
    assert created.status_code == 201, created.text
    return [
        "search" if call.path.endswith("/search") else "read"
        for call in world.router.calls
        if call.path.startswith("/crm/v8/Contacts/")
    ]


async def test_a_payment_reads_the_contact_only_when_its_customer_is_not_linked(
    world: World,
) -> None:
    assert await _janes_payment(world, linked=True) == []


async def test_a_payment_for_a_customer_matched_by_email_reads_the_contact(
    world: World,
) -> None:
    # Her email, then whether another Contact shares it.
    assert await _janes_payment(world, linked=False) == ["read", "search"]


async def test_invoice_flows_wait_for_sync_now(world: World) -> None:
    """Chosen over working before Sync Now: GoCardless cannot find a customer by email, so
    before the copy the popup would miss existing mandates and email needless setup links."""
    installed = await connect(world)
    invoice = invoice_id(world, "Website redesign")
    headers = world.widget_headers(installed)
    for method, path in (
        ("GET", f"/api/v1/invoices/{invoice}/mandates"),
        ("POST", f"/api/v1/invoices/{invoice}/payments"),
        ("POST", f"/api/v1/invoices/{invoice}/mandate-requests"),
    ):
        body = {"mandate_id": "MD000123"} if path.endswith("payments") else None
        response = await world.client.request(method, path, headers=headers, json=body)
        assert response.status_code == 409, response.text
        assert (response.json()["code"], response.json()["sync_state"]) == (
            "sync_not_done",
            "not_started",
        )
    assert world.zoho.outbox == []

    assert (await sync_now(world, installed))["state"] == "succeeded"
    assert (await popup(world, installed, invoice))["invoice"]["id"] == invoice
