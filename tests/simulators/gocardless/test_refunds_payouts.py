"""Refunds (created against a payment, confirmed by the running total) and payouts (a day's
collections, named by the `paid_out` event), as the real API has them."""

from __future__ import annotations

from typing import Any

import httpx

from app.simulators.gocardless import lifecycle

from .conftest import Sim


def refund(payment: str, amount: int, total: int) -> dict[str, Any]:
    return {
        "refunds": {
            "amount": amount,
            "total_amount_confirmation": total,
            "links": {"payment": payment},
        }
    }


def reason(response: httpx.Response) -> str:
    return str(response.json()["error"]["errors"][0]["reason"])


def paid_out(sim: Sim) -> str:
    payment = next(p for p in sim.org.payments.newest_first() if p.status == "paid_out")
    payment.amount_refunded = 0
    return payment.id


async def test_refunds_are_checked_against_the_payment_and_the_creditor(sim: Sim) -> None:
    payment_id = paid_out(sim)
    amount = sim.org.payments.get(payment_id).amount  # type: ignore[union-attr]
    off = await sim.client.post("/refunds", json=refund(payment_id, 100, 100))
    assert (off.status_code, reason(off)) == (403, "refund_not_enabled")

    sim.org.creditor.can_create_refunds = True
    wrong_total = await sim.client.post("/refunds", json=refund(payment_id, 100, 50))
    assert (wrong_total.status_code, reason(wrong_total)) == (
        422,
        "total_amount_confirmation_invalid",
    )
    too_much = await sim.client.post("/refunds", json=refund(payment_id, amount + 1, amount + 1))
    assert reason(too_much) == "available_refund_amount_insufficient"
    missing = await sim.client.post(
        "/refunds", json={"refunds": {"amount": 100, "links": {"payment": payment_id}}}
    )
    assert missing.json()["error"]["type"] == "validation_failed"

    headers = {"Idempotency-Key": "refund-1"}
    made = await sim.client.post("/refunds", json=refund(payment_id, 100, 100), headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["refunds"]["links"]["payment"] == payment_id
    again = await sim.client.post("/refunds", json=refund(payment_id, 100, 100), headers=headers)
    assert (again.status_code, reason(again)) == (409, "idempotent_creation_conflict")
    payment = (await sim.client.get(f"/payments/{payment_id}")).json()["payments"]
    assert payment["amount_refunded"] == 100
    # The next refund confirms the running total, this one included.
    second = await sim.client.post("/refunds", json=refund(payment_id, 50, 150))
    assert second.status_code == 201, second.text

    pending = next(p for p in sim.org.payments.newest_first() if p.status == "pending_submission")
    early = await sim.client.post("/refunds", json=refund(pending.id, 1, 1))
    assert reason(early) == "refund_payment_invalid_state"


async def test_a_paid_out_payment_names_its_payout(sim: Sim) -> None:
    payment = next(p for p in sim.org.payments.newest_first() if p.status == "confirmed")
    lifecycle.move_payment(sim.state, sim.org, payment, "paid_out")
    (event,) = [
        e
        for e in sim.org.events.newest_first()
        if e.links.get("payment") == payment.id and e.action == "paid_out"
    ]
    payout = (await sim.client.get(f"/payouts/{event.links['payout']}")).json()["payouts"]
    assert (payout["amount"], payout["currency"], payout["status"]) == (
        payment.amount,
        payment.currency,
        "pending",
    )
    listed = (await sim.client.get("/payouts")).json()["payouts"]
    assert payout["id"] in [p["id"] for p in listed]
