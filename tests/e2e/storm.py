"""A seeded random storm of GoCardless changes: new payers, payments, the bank moving them
through every status (late failures included, paid-out ones in daily payouts), cancellations,
retries, refunds (some sent back by the customer's bank), mandates replaced by a new scheme
identifier, and days passing.

Each step picks from the simulator's current state, then acts over HTTP as the merchant,
payer or bank would; a step the state no longer allows when it lands (the bank moved first)
is refused by GoCardless and simply counts as not happening.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.simulators.gocardless.lifecycle import MANDATE_INACTIVE
from tests.e2e.merchant import Merchant

# Zoho Contacts the simulator seeds: one email belongs to one Contact, the other to two.
CONTACT_EMAILS = ("john.smith@example.com", "shared.inbox@example.com")
# Where the bank may take a payment next, from each status (late failures included).
BANK_MOVES = {
    "pending_submission": ("submitted", "confirmed", "paid_out", "failed"),
    "submitted": ("confirmed", "paid_out", "failed"),
    "confirmed": ("paid_out", "failed", "charged_back"),
    "paid_out": ("failed", "charged_back"),
}
USABLE_MANDATE = ("pending_submission", "submitted", "active")


@dataclass
class Storm:
    merchant: Merchant
    rng: random.Random
    # How often each kind of step happened (and was accepted).
    done: dict[str, int] = field(default_factory=dict)

    async def step(self) -> None:
        steps: list[tuple[int, Callable[[], Awaitable[bool]]]] = [
            (3, self.new_payer),
            (6, self.new_payment),
            (3, self.days_pass),
            (5, self.bank_moves),
            (2, self.cancel_payment),
            (1, self.cancel_mandate),
            (2, self.retry_payment),
            (3, self.refund),
            (1, self.refund_bounces),
            (1, self.replace_mandates),
        ]
        weights = [w for w, _ in steps]
        (chosen,) = self.rng.choices([s for _, s in steps], weights=weights)
        if await chosen():
            self.done[chosen.__name__] = self.done.get(chosen.__name__, 0) + 1

    async def new_payer(self) -> bool:
        n = sum(self.done.values())
        email = (
            self.rng.choice(CONTACT_EMAILS)
            if self.rng.random() < 0.3
            else f"payer.{n}.{self.rng.randrange(10**6)}@example.org"
        )
        await self.merchant.new_customer(
            given_name=self.rng.choice(("Ada", "Alan", "Grace")),
            family_name=f"Storm{n}",
            email=email,
            currency=self.rng.choice(("GBP", "GBP", "EUR")),
        )
        return True

    async def new_payment(self) -> bool:
        mandates = [
            m
            for m in self.merchant.world.merchant.mandates.newest_first()
            if m.status in USABLE_MANDATE
        ]
        if not mandates:
            return False
        mandate = self.rng.choice(mandates)
        currency = "GBP" if mandate.scheme == "bacs" else "EUR"
        response = await self.merchant.send(
            "POST",
            "/payments",
            {
                "payments": {
                    "amount": self.rng.randint(1, 2_000) * 25,
                    "currency": currency,
                    "links": {"mandate": mandate.id},
                    "description": f"Storm invoice {self.rng.randrange(10**6)}",
                }
            },
            create=True,
        )
        return response.status_code == 201

    async def days_pass(self) -> bool:
        await self.merchant.days_pass(self.rng.choice((0.5, 1, 2, 3)))
        return True

    async def bank_moves(self) -> bool:
        payments = [
            p
            for p in self.merchant.world.merchant.payments.newest_first()
            if p.status in BANK_MOVES
        ]
        if not payments:
            return False
        payment = self.rng.choice(payments[:200])
        return await self.merchant.bank_tries_to_move(
            payment.id, self.rng.choice(BANK_MOVES[payment.status])
        )

    async def cancel_payment(self) -> bool:
        pending = [
            p
            for p in self.merchant.world.merchant.payments.newest_first()
            if p.status == "pending_submission"
        ]
        if not pending:
            return False
        payment = self.rng.choice(pending)
        response = await self.merchant.send(
            "POST", f"/payments/{payment.id}/actions/cancel", {"data": {}}
        )
        return response.is_success

    async def cancel_mandate(self) -> bool:
        live = [
            m
            for m in self.merchant.world.merchant.mandates.newest_first()
            if m.status not in MANDATE_INACTIVE
        ]
        if not live:
            return False
        mandate = self.rng.choice(live)
        response = await self.merchant.send(
            "POST", f"/mandates/{mandate.id}/actions/cancel", {"data": {}}
        )
        return response.is_success

    async def retry_payment(self) -> bool:
        org = self.merchant.world.merchant
        failed = [
            p
            for p in org.payments.newest_first()
            if p.status == "failed"
            and p.retries < 3
            and (m := org.mandates.get(p.mandate)) is not None
            and m.status == "active"
        ]
        if not failed:
            return False
        payment = self.rng.choice(failed)
        response = await self.merchant.send(
            "POST", f"/payments/{payment.id}/actions/retry", {"data": {}}
        )
        return response.is_success

    async def refund(self) -> bool:
        """The merchant gives back part or all of what is left of a collected payment."""
        collected = [
            p
            for p in self.merchant.world.merchant.payments.newest_first()
            if p.status in ("confirmed", "paid_out") and p.amount_refunded < p.amount
        ]
        if not collected:
            return False
        payment = self.rng.choice(collected[:200])
        left = payment.amount - payment.amount_refunded
        amount = left if self.rng.random() < 0.3 else self.rng.randint(1, left)
        response = await self.merchant.send(
            "POST",
            "/refunds",
            {
                "refunds": {
                    "amount": amount,
                    "total_amount_confirmation": payment.amount_refunded + amount,
                    "links": {"payment": payment.id},
                }
            },
            create=True,
        )
        return response.status_code == 201

    async def refund_bounces(self) -> bool:
        refunds = [
            r
            for r in self.merchant.world.merchant.refunds.newest_first()
            if r.status not in ("bounced", "funds_returned", "cancelled")
        ]
        if not refunds:
            return False
        chosen = self.rng.choice(refunds)
        response = await self.merchant.http.post(f"/_sim/refunds/{chosen.id}/fail")
        return response.status_code == 200

    async def replace_mandates(self) -> bool:
        """The creditor moves to a new scheme identifier: its mandates of one scheme are
        replaced (`replaced` events naming the new ones)."""
        org = self.merchant.world.merchant
        response = await self.merchant.http.post(
            f"/_sim/organisations/{org.id}/scheme-identifier-change",
            json={"scheme": self.rng.choice(("bacs", "sepa_core"))},
        )
        assert response.status_code == 200, response.text
        return bool(response.json()["new_mandates"])
