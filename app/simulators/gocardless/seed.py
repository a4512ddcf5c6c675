"""Deterministic bulk data for an organisation: customers, bank accounts, mandates,
payments in every common status and a few refunds, backdated over the past year.

Seeded records are history, so no events are emitted for them; payments still in
flight are scheduled and move on (with events) as the clock advances.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.simulators.gocardless import lifecycle
from app.simulators.gocardless.formats import CURRENCY_SCHEME, add_working_days
from app.simulators.gocardless.resources import (
    Customer,
    CustomerBankAccount,
    Mandate,
    Payment,
    Refund,
)
from app.simulators.gocardless.state import Organisation, SimulatorState

GIVEN = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances")
FAMILY = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Allen")
COMPANIES = ("Acme Widgets Ltd", "Globex plc", "Initech Ltd", "Umbrella Services", "Hooli UK")
BANKS = {"GBP": ("BARCLAYS BANK PLC", "GB"), "EUR": ("BNP PARIBAS", "FR")}
# Settled history dominates; some payments went wrong.
SETTLED = ("paid_out",) * 14 + ("confirmed", "failed", "cancelled", "charged_back")


@dataclass(frozen=True)
class SeedCounts:
    customers: int
    mandates: int
    payments: int
    refunds: int


def seed_organisation(
    state: SimulatorState,
    org: Organisation,
    *,
    customers: int,
    mandate_share: float = 0.8,
    payments_per_mandate: int = 4,
    seed: int = 0,
) -> SeedCounts:
    """Add `customers` customers; `mandate_share` of them get a mandate with on average
    `payments_per_mandate` payments. The same `seed` gives the same data."""
    rng = random.Random(seed)  # noqa: S311 - repeatable fake data
    now = state.clock.now()
    currencies = [c for c in org.creditor.currencies() if c in BANKS] or ["GBP"]
    payments: list[Payment] = []
    mandates = 0
    for n in range(customers):
        created = now - timedelta(days=365) * (1 - n / max(customers, 1))
        customer = _customer(state, rng, created)
        org.customers.add(customer.id, customer)
        if rng.random() >= mandate_share:
            continue
        account = _bank_account(state, rng, customer, rng.choice(currencies))
        org.bank_accounts.add(account.id, account, customer=customer.id)
        mandate = _mandate(state, rng, org, account, created + timedelta(minutes=5))
        org.mandates.add(
            mandate.id, mandate, customer=customer.id, customer_bank_account=account.id
        )
        mandates += 1
        for _ in range(rng.randint(0, payments_per_mandate * 2)):
            payments.append(_payment(state, rng, mandate, now))
    # Insertion order is list order (newest first), so add payments oldest first.
    payments.sort(key=lambda p: p.created_at)
    refunds = 0
    for payment in payments:
        org.payments.add(payment.id, payment, mandate=payment.mandate, customer=payment.customer)
        if payment.status in ("pending_submission", "submitted"):
            lifecycle.schedule_next_payment_step(state, org, payment, now.date())
        elif payment.status == "paid_out" and rng.random() < 0.03:
            refund = _refund(state, rng, payment)
            org.refunds.add(refund.id, refund, payment=payment.id, mandate=payment.mandate)
            refunds += 1
    return SeedCounts(customers, mandates, len(payments), refunds)


def _customer(state: SimulatorState, rng: random.Random, created: datetime) -> Customer:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    details: dict[str, str | None] = {
        "given_name": given,
        "family_name": family,
        "company_name": rng.choice(COMPANIES) if rng.random() < 0.2 else None,
        "email": f"{given.lower()}.{family.lower()}.{state.ids.digits(6)}@example.com",
        "address_line1": f"{rng.randint(1, 200)} High Street",
        "city": "London",
        "postal_code": "EC1V 7LQ",
        "country_code": "GB",
        "language": "en",
    }
    return Customer(id=state.ids.next("CU"), created_at=created, details=details)


def _bank_account(
    state: SimulatorState, rng: random.Random, customer: Customer, currency: str
) -> CustomerBankAccount:
    bank, country = BANKS[currency]
    return CustomerBankAccount(
        id=state.ids.next("BA"),
        created_at=customer.created_at,
        customer=customer.id,
        account_holder_name=f"{customer.details['given_name']} {customer.details['family_name']}",
        account_number_ending=f"{rng.randint(0, 99):02d}",
        bank_name=bank,
        country_code=country,
        currency=currency,
    )


def _mandate(
    state: SimulatorState,
    rng: random.Random,
    org: Organisation,
    account: CustomerBankAccount,
    created: datetime,
) -> Mandate:
    return Mandate(
        id=state.ids.next("MD"),
        created_at=created,
        creditor=org.creditor.id,
        customer=account.customer,
        customer_bank_account=account.id,
        scheme=CURRENCY_SCHEME[account.currency],
        reference=f"{org.creditor.bank_reference_prefix}-{state.ids.digits(8)}",
        status="cancelled" if rng.random() < 0.05 else "active",
        ready_on=add_working_days(created.date(), 3),
    )


def _payment(state: SimulatorState, rng: random.Random, mandate: Mandate, now: datetime) -> Payment:
    created = mandate.created_at + (now - mandate.created_at) * rng.random()
    charge_date = add_working_days(created.date(), 5)
    today = now.date()
    if charge_date <= today - timedelta(days=3):
        status = rng.choice(SETTLED)
    elif mandate.status == "cancelled":
        status = "cancelled"
    else:
        status = "submitted" if charge_date <= today + timedelta(days=2) else "pending_submission"
    return Payment(
        id=state.ids.next("PM"),
        created_at=created,
        amount=rng.randint(5, 500) * 100 + rng.choice((0, 50, 99)),
        currency="GBP" if mandate.scheme == "bacs" else "EUR",
        charge_date=charge_date,
        mandate=mandate.id,
        creditor=mandate.creditor,
        customer=mandate.customer,
        scheme=mandate.scheme,
        status=status,
        description=f"Invoice INV-{state.ids.digits(6)}",
    )


def _refund(state: SimulatorState, rng: random.Random, payment: Payment) -> Refund:
    amount = max(payment.amount * rng.randint(1, 10) // 10, 1)
    payment.amount_refunded = amount
    return Refund(
        id=state.ids.next("RF"),
        created_at=payment.created_at + timedelta(days=14),
        amount=amount,
        currency=payment.currency,
        payment=payment.id,
        mandate=payment.mandate,
        status="paid",
    )
