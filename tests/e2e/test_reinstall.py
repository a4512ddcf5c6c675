"""A reinstall starts the org's counters again; GoCardless must not take that for a repeat.

Idempotency keys are derived per installation, so the new installation's first payment or
setup link is a new one at GoCardless, never the old installation's (cancelled) payment or
(fulfilled) billing request handed back. A payment the old installation made that may still
collect keeps its invoice: no second one is made. Against both simulators."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.e2e.harness import connect, settle, sync_now
from tests.e2e.test_invoice_payers import customer_completes_the_emailed_link
from tests.e2e.test_invoice_retries import Collecting, collecting  # noqa: F401  (fixture)


async def reinstalled(collecting: Collecting) -> Collecting:  # noqa: F811
    world = collecting.world
    gone = await world.client.delete("/api/v1/installation", headers=collecting.headers)
    assert gone.status_code == 204, gone.text
    installed = await connect(world)
    assert installed.installation_id != collecting.installed.installation_id
    assert (await sync_now(world, installed))["state"] == "succeeded"
    return replace(collecting, installed=installed)


async def test_a_reinstall_makes_a_new_payment_not_the_old_cancelled_one(
    collecting: Collecting,  # noqa: F811
) -> None:
    first = (await collecting.pay()).json()["payment"]["id"]
    cancelled = await collecting.post(f"/api/v1/payments/{first}/cancel")
    assert cancelled.json()["payment"]["status"] == "cancelled"

    again = await reinstalled(collecting)
    created = await again.pay()
    assert created.status_code == 201, created.text
    payment = created.json()["payment"]
    assert payment["id"] != first and payment["status"] == "pending_submission"
    assert len(list(collecting.world.merchant.payments.newest_first())) == 2


async def test_an_old_payment_that_may_still_collect_keeps_its_invoice_after_a_reinstall(
    collecting: Collecting,  # noqa: F811
) -> None:
    first = (await collecting.pay()).json()["payment"]["id"]
    again = await reinstalled(collecting)
    repeated = await again.pay()
    assert repeated.status_code == 200, repeated.text
    assert repeated.json()["payment"]["id"] == first
    assert [p.id for p in collecting.world.merchant.payments.newest_first()] == [first]


def ours(collecting: Collecting) -> list[Any]:  # noqa: F811
    requests = collecting.world.merchant.billing_requests.newest_first()
    return [r for r in requests if r.metadata.get("zoho_invoice_id")]


async def test_a_reinstall_never_emails_the_old_fulfilled_setup_link(
    collecting: Collecting,  # noqa: F811
) -> None:
    world = collecting.world
    await customer_completes_the_emailed_link(world, collecting.installed, collecting.invoice_id)
    await settle(world)
    (old,) = ours(collecting)
    assert old.status == "fulfilled"

    again = await reinstalled(collecting)
    sent = await world.client.post(
        f"/api/v1/invoices/{collecting.invoice_id}/mandate-requests", headers=again.headers
    )
    assert sent.status_code == 201, sent.text
    new, _ = ours(collecting)
    assert new.id != old.id and new.status == "pending"
    assert new.flows[-1] in sent.json()["mandate_request"]["authorisation_url"]
    assert new.flows[-1] in world.zoho.outbox[-1].content
