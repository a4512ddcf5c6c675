"""Exact bulk data for the GoCardless simulator: N customers, M mandates, P payments.

The simulator's own seeder draws its payment count at random; call-count tests need exact
figures, so this one spreads exactly `payments` over the mandates. Seeded records are
history (no events), and payments still in flight are booked to move on when the clock
passes their next step (never at once).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.simulators.gocardless import lifecycle
from app.simulators.gocardless.formats import (
    CURRENCY_SCHEME,
    add_working_days,
    subtract_working_days,
)
from app.simulators.gocardless.resources import Customer, CustomerBankAccount, Mandate, Payment
from app.simulators.gocardless.state import Organisation, SimulatorState

GIVEN = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken")
FAMILY = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton")
COMPANIES = ("Acme Widgets Ltd", "Globex plc", "Initech Ltd", "Umbrella Services")
SETTLED = ("paid_out",) * 10 + ("confirmed", "failed", "cancelled", "charged_back")


@dataclass(frozen=True)
class Seeded:
    customers: list[str]
    mandates: list[str]
    payments: list[str]


def seed_gocardless(
    state: SimulatorState,
    org: Organisation,
    *,
    customers: int,
    payments: int,
    mandate_share: float = 0.8,
    emails: Sequence[str] = (),
    seed: int = 1,
) -> Seeded:
    """`customers` customers (the first ones get `emails`), `mandate_share` of them with a
    mandate, and exactly `payments` payments spread over those mandates, oldest first."""
    rng = random.Random(seed)
    now = state.clock.now()
    customer_ids: list[str] = []
    mandates: list[Mandate] = []
    for n in range(customers):
        created = now - timedelta(days=400) + timedelta(minutes=n)
        customer = _customer(state, rng, created, emails[n] if n < len(emails) else None)
        org.customers.add(customer.id, customer)
        customer_ids.append(customer.id)
        if n == 0 or rng.random() < mandate_share:
            mandate = _mandate(state, rng, org, customer, created + timedelta(seconds=30))
            mandates.append(mandate)
    made = [_payment(state, rng, rng.choice(mandates), now) for _ in range(payments)]
    made.sort(key=lambda p: p.created_at)
    for payment in made:
        org.payments.add(payment.id, payment, mandate=payment.mandate, customer=payment.customer)
        lifecycle.schedule_next_payment_step(state, org, payment, now.date())
    return Seeded(customer_ids, [m.id for m in mandates], [p.id for p in made])


def _customer(
    state: SimulatorState, rng: random.Random, created: datetime, email: str | None
) -> Customer:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    company = rng.choice(COMPANIES) if rng.random() < 0.2 else None
    details: dict[str, str | None] = {
        "given_name": given,
        "family_name": family,
        "company_name": company,
        "email": email or f"{given.lower()}.{family.lower()}.{state.ids.digits(6)}@example.com",
        "address_line1": "1 High Street",
        "city": "London",
        "postal_code": "EC1V 7LQ",
        "country_code": "GB",
        "language": "en",
    }
    return Customer(id=state.ids.next("CU"), created_at=created, details=details)


def _mandate(
    state: SimulatorState,
    rng: random.Random,
    org: Organisation,
    customer: Customer,
    created: datetime,
) -> Mandate:
    currency = "GBP" if rng.random() < 0.8 else "EUR"
    account = CustomerBankAccount(
        id=state.ids.next("BA"),
        created_at=created,
        customer=customer.id,
        account_holder_name=f"{customer.details['given_name']} {customer.details['family_name']}",
        account_number_ending=f"{rng.randint(0, 99):02d}",
        bank_name="BARCLAYS BANK PLC" if currency == "GBP" else "BNP PARIBAS",
        country_code="GB" if currency == "GBP" else "FR",
        currency=currency,
    )
    org.bank_accounts.add(account.id, account, customer=customer.id)
    mandate = Mandate(
        id=state.ids.next("MD"),
        created_at=created,
        creditor=org.creditor.id,
        customer=customer.id,
        customer_bank_account=account.id,
        scheme=CURRENCY_SCHEME[currency],
        reference=f"{org.creditor.bank_reference_prefix}-{state.ids.digits(8)}",
        status="active",
        ready_on=add_working_days(created.date(), 3),
    )
    org.mandates.add(mandate.id, mandate, customer=customer.id, customer_bank_account=account.id)
    return mandate


def _payment(state: SimulatorState, rng: random.Random, mandate: Mandate, now: datetime) -> Payment:
    created = mandate.created_at + (now - mandate.created_at) * rng.random()
    charge_date = add_working_days(created.date(), 5)
    today = now.date()
    # In flight only when the bank's next step is still ahead (a step already due would
    # fire, with its event, at the first API call: history must stay history).
    if charge_date <= today:
        status = rng.choice(SETTLED)
    elif subtract_working_days(charge_date, lifecycle.lead_days(mandate.scheme)) > today:
        status = "pending_submission"
    else:
        status = "submitted"
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
        reference=f"REF{state.ids.digits(6)}" if rng.random() < 0.3 else None,
    )
