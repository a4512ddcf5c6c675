"""A failed payment keeps its invoice while it may still be retried; a charge-back keeps it
until the user confirms collecting again. Through our HTTP API, against both simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.harness import World, connect, settle, sync_now
from tests.e2e.merchant import Merchant
from tests.foundation.conftest import Installed


@dataclass
class Collecting:
    world: World
    installed: Installed
    merchant: Merchant
    invoice_id: str
    mandate_id: str

    @property
    def headers(self) -> dict[str, str]:
        return self.world.widget_headers(self.installed)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.world.client.post(path, headers=self.headers, json=body)

    async def pay(self, **extra: Any) -> Any:
        return await self.post(
            f"/api/v1/invoices/{self.invoice_id}/payments", {"mandate_id": self.mandate_id, **extra}
        )

    async def popup(self) -> dict[str, Any]:
        response = await self.world.client.get(
            f"/api/v1/invoices/{self.invoice_id}/mandates", headers=self.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def bank_fails(self, payment_id: str) -> None:
        await self.merchant.bank_moves_payment(payment_id, "failed")
        await settle(self.world)


@pytest.fixture
async def collecting(world: World) -> AsyncIterator[Collecting]:
    """Jane Doe (one Contact with her email) has an active Bacs mandate; her GBP invoice waits."""
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
    invoice_id = next(
        r["id"] for r in invoices.records.values() if r["Subject"] == "Website redesign"
    )
    yield Collecting(world, installed, merchant, invoice_id, mandate)
    await merchant.aclose()


async def test_a_failed_payment_keeps_the_invoice_until_retries_are_used_up(
    collecting: Collecting,
) -> None:
    first = await collecting.pay()
    assert first.status_code == 201, first.text
    payment_id = first.json()["payment"]["id"]
    await collecting.bank_fails(payment_id)

    # A second payment could be debited alongside a retry of the first: refused.
    again = await collecting.pay()
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "payment_retry_possible"
    assert again.json()["payment_id"] == payment_id
    (shown,) = (await collecting.popup())["payments"]
    assert (shown["status"], shown["standing"]) == ("failed", "retryable")
    assert "insufficient funds" in shown["standing_reason"]

    # GoCardless allows three retries of the same payment; each fails again here.
    for _ in range(3):
        retried = await collecting.post(f"/api/v1/payments/{payment_id}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["payment"]["id"] == payment_id
        assert retried.json()["payment"]["status"] == "pending_submission"
        await collecting.bank_fails(payment_id)
    used_up = await collecting.post(f"/api/v1/payments/{payment_id}/retry")
    assert used_up.status_code == 409 and used_up.json()["code"] == "payment_not_retryable"
    assert "retried 3 times" in used_up.json()["detail"]

    # Only now is the invoice free for a new payment.
    second = await collecting.pay()
    assert second.status_code == 201, second.text
    assert second.json()["payment"]["id"] != payment_id
    standings = {p["id"]: p["standing"] for p in (await collecting.popup())["payments"]}
    assert standings == {payment_id: "over", second.json()["payment"]["id"]: "holds"}


async def test_an_automatic_retry_keeps_the_invoice_and_happens_by_itself(
    collecting: Collecting,
) -> None:
    first = await collecting.pay()
    payment_id = first.json()["payment"]["id"]
    # Success+ intelligent retries, switched on for this payment.
    await collecting.merchant.api(
        "PUT", f"/payments/{payment_id}", {"payments": {"retry_if_possible": True}}
    )
    await collecting.bank_fails(payment_id)
    failure = next(
        e
        for e in collecting.world.merchant.events.newest_first()
        if e.links.get("payment") == payment_id and e.action == "failed"
    )
    assert failure.details["will_attempt_retry"] is True

    again = await collecting.pay()
    assert again.status_code == 409 and again.json()["standing"] == "retry_pending"
    assert "GoCardless will retry it automatically" in again.json()["detail"]
    # GoCardless retries it itself: a retry of ours now is refused, saying why.
    ours = await collecting.post(f"/api/v1/payments/{payment_id}/retry")
    assert ours.status_code == 409 and ours.json()["code"] == "payment_not_retryable"
    assert "automatically" in ours.json()["detail"]

    await collecting.merchant.days_pass(7)
    await settle(collecting.world)
    (shown,) = (await collecting.popup())["payments"]
    assert shown["status"] in ("pending_submission", "submitted", "confirmed")
    assert shown["standing"] == "holds"
    repeated = await collecting.pay()
    assert repeated.status_code == 200 and repeated.json()["payment"]["id"] == payment_id


async def test_a_payment_on_a_cancelled_mandate_cannot_be_retried_and_frees_the_invoice(
    collecting: Collecting,
) -> None:
    first = await collecting.pay()
    payment_id = first.json()["payment"]["id"]
    await collecting.bank_fails(payment_id)
    await collecting.merchant.cancel_mandate(collecting.mandate_id)
    await settle(collecting.world)

    refused = await collecting.post(f"/api/v1/payments/{payment_id}/retry")
    assert refused.status_code == 409 and refused.json()["code"] == "payment_not_retryable"
    assert "its mandate is cancelled" in refused.json()["detail"]
    (shown,) = (await collecting.popup())["payments"]
    assert shown["standing"] == "over"


async def test_collecting_a_charged_back_invoice_again_needs_confirmation(
    collecting: Collecting,
) -> None:
    first = await collecting.pay()
    payment_id = first.json()["payment"]["id"]
    await collecting.merchant.bank_moves_payment(payment_id, "charged_back")
    await settle(collecting.world)
    (shown,) = (await collecting.popup())["payments"]
    assert (shown["status"], shown["standing"]) == ("charged_back", "charged_back")

    refused = await collecting.pay()
    assert refused.status_code == 409 and refused.json()["code"] == "payment_charged_back"
    assert "a dispute" in refused.json()["detail"]
    confirmed = await collecting.pay(recollect_charged_back=True)
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["payment"]["id"] != payment_id
