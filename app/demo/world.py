"""The two simulated accounts the demo starts with, wired to our service.

Zoho: the simulator's seeded org (an Administrator and a Standard user, contacts with and
without email, two contacts sharing one, invoices in GBP and EUR, one without a contact).
GoCardless: a verified merchant with a few dozen unrelated customers (some without mandates,
payments in every common status) plus two customers whose emails match CRM contacts, so
Sync Now links them and each invoice exercises one path of the product (`STORIES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.demo.config import (
    GOCARDLESS_CLIENT_ID,
    ZOHO_CLIENT_ID,
    ZOHO_CLIENT_SECRET,
    DemoUrls,
    ProviderSecrets,
)
from app.simulators.gocardless import SimulatorOptions, SimulatorState, lifecycle
from app.simulators.gocardless.formats import (
    CURRENCY_SCHEME,
    SCHEME_CURRENCY,
    add_working_days,
    subtract_working_days,
)
from app.simulators.gocardless.resources import Customer, CustomerBankAccount, Mandate, Payment
from app.simulators.gocardless.seed import seed_organisation
from app.simulators.gocardless.state import Organisation
from app.simulators.zoho import ZohoSimOptions, ZohoSimState
from app.simulators.zoho.seed import seed_org

# Fixed, so a `--reuse`d database names the same GoCardless ids as the fresh simulator.
GOCARDLESS_SEED = 20260105
BULK_CUSTOMERS = 30
WIDGET_REDIRECT_PATH = "/demo/widget"
# What both consent pages call the application asking for access.
APP_NAME = "GoCardless for Zoho CRM (demo)"


@dataclass(frozen=True)
class NamedPayment:
    status: str
    amount: int  # minor units
    charge_in_working_days: int  # negative: in the past
    description: str


@dataclass(frozen=True)
class NamedCustomer:
    given_name: str
    family_name: str
    email: str
    currency: str
    payments: tuple[NamedPayment, ...]


# Customers that share an email with a seeded CRM contact (Sync Now links them).
NAMED_CUSTOMERS = (
    NamedCustomer(
        "Jane",
        "Doe",
        "jane.doe@example.com",
        "GBP",
        (
            NamedPayment("paid_out", 9_900, -40, "Invoice INV-2025-0031"),
            NamedPayment("paid_out", 9_900, -19, "Invoice INV-2025-0047"),
        ),
    ),
    NamedCustomer(
        "John",
        "Smith",
        "john.smith@example.com",
        "EUR",
        (
            NamedPayment("confirmed", 18_000, -1, "Invoice INV-2025-0052"),
            NamedPayment("pending_submission", 4_500, 6, "Invoice INV-2026-0003"),
        ),
    ),
)

# What each seeded CRM invoice shows, by its subject (see app/simulators/zoho/seed.py).
STORIES: dict[str, str] = {
    "Website redesign": (
        "Jane Doe has a Bacs (GBP) mandate: Send Invoice lists it and Proceed collects "
        "£120.00. Cancel Payment cancels that payment until the bank has it (move it on in "
        "the GoCardless simulator and the cancel is refused)."
    ),
    "Annual licence": (
        "Jane Doe again, but the invoice is in EUR and her only mandate is GBP: the widget "
        "shows it cannot be used before anyone clicks, and offers a setup link in EUR."
    ),
    "Consulting March": (
        "John Smith has a SEPA (EUR) mandate: Send Invoice collects €250.50 from it."
    ),
    "Shared services": (
        "Pat Shared has no mandate: Send Invoice emails a mandate-setup link (see the Zoho "
        "outbox) to shared.inbox@example.com, an address Chris Shared uses too. Open the link, "
        "complete the GoCardless page, and the new mandate appears in the popup."
    ),
    "Support plan": (
        "Nora Noemail has no email address, so the setup link is disabled and the widget says why."
    ),
    "Orphan invoice": "The invoice has no contact: the widget asks you to choose one first.",
}


@dataclass(frozen=True)
class CrmUser:
    id: str
    name: str
    profile: str


@dataclass(frozen=True)
class CrmInvoice:
    id: str
    subject: str
    contact: str
    total: str
    currency: str
    story: str


@dataclass(frozen=True)
class World:
    gocardless: SimulatorState
    zoho: ZohoSimState
    zoho_org_id: str
    gocardless_organisation_id: str
    users: tuple[CrmUser, ...]  # active users, the Administrator first
    invoices: tuple[CrmInvoice, ...]

    @property
    def admin_user_id(self) -> str:
        return self.users[0].id


def build_world(urls: DemoUrls, provider: ProviderSecrets) -> World:
    gocardless = _gocardless(urls, provider)
    zoho = ZohoSimState(
        ZohoSimOptions(base_url=urls.zoho, widget_url=f"{urls.service}{WIDGET_REDIRECT_PATH}")
    )
    zoho_org = seed_org(zoho, company_name="Zylker Traders").org
    zoho.accounts.register_client(
        ZOHO_CLIENT_ID,
        ZOHO_CLIENT_SECRET,
        f"{urls.service}/oauth/zoho/callback",
        name=APP_NAME,
    )
    users = sorted(
        (
            CrmUser(u.id, u.full_name, zoho_org.profiles[u.profile_id])
            for u in zoho_org.users.values()
            if u.status == "active"
        ),
        key=lambda user: user.profile != "Administrator",
    )
    invoices_store = zoho_org.store("Invoices")
    assert invoices_store is not None  # the seeded org always has the standard modules
    invoices = tuple(
        CrmInvoice(
            id=record["id"],
            subject=str(record.get("Subject") or ""),
            contact=_contact_name(zoho, record.get("Contact_Name")),
            total=format(record["Grand_Total"], "f"),
            currency=str(record.get("Currency") or zoho_org.home_currency),
            story=STORIES.get(str(record.get("Subject")), ""),
        )
        for record in invoices_store.records.values()
    )
    return World(
        gocardless=gocardless,
        zoho=zoho,
        zoho_org_id=zoho_org.id,
        gocardless_organisation_id=next(iter(gocardless.organisations)),
        users=tuple(users),
        invoices=invoices,
    )


def _contact_name(zoho: ZohoSimState, contact_id: object) -> str:
    if not contact_id:
        return ""
    found = zoho.find_record("Contacts", str(contact_id))
    if found is None:
        return ""
    _org, record = found
    return f"{record.get('First_Name') or ''} {record.get('Last_Name') or ''}".strip()


def _gocardless(urls: DemoUrls, provider: ProviderSecrets) -> SimulatorState:
    state = SimulatorState(SimulatorOptions(public_url=urls.gocardless, seed=GOCARDLESS_SEED))
    org = state.create_organisation(name="Demo Merchant Ltd", currencies=("GBP", "EUR"))
    # So a collected payment's Refund… works in the demo (GoCardless enables it on request).
    org.creditor.can_create_refunds = True
    seed_organisation(state, org, customers=BULK_CUSTOMERS, seed=GOCARDLESS_SEED)
    for named in NAMED_CUSTOMERS:
        _add_named_customer(state, org, named)
    state.configure_oauth_client(
        GOCARDLESS_CLIENT_ID,
        provider.gocardless_client_secret,
        f"{urls.service}/oauth/gocardless/callback",
        name=APP_NAME,
    )
    state.add_webhook_endpoint(
        f"{urls.service}/webhooks/gocardless", provider.gocardless_webhook_secret
    )
    return state


def _add_named_customer(state: SimulatorState, org: Organisation, named: NamedCustomer) -> None:
    now = state.clock.now()
    created = now - timedelta(days=60)
    customer = Customer(
        id=state.ids.next("CU"),
        created_at=created,
        details={
            "given_name": named.given_name,
            "family_name": named.family_name,
            "company_name": None,
            "email": named.email,
            "address_line1": "1 Demo Street",
            "city": "London",
            "postal_code": "EC1V 7LQ",
            "country_code": "GB",
            "language": "en",
        },
    )
    org.customers.add(customer.id, customer)
    account = CustomerBankAccount(
        id=state.ids.next("BA"),
        created_at=created,
        customer=customer.id,
        account_holder_name=f"{named.given_name} {named.family_name}",
        account_number_ending="11",
        bank_name="BARCLAYS BANK PLC" if named.currency == "GBP" else "BNP PARIBAS",
        country_code="GB" if named.currency == "GBP" else "FR",
        currency=named.currency,
    )
    org.bank_accounts.add(account.id, account, customer=customer.id)
    mandate = Mandate(
        id=state.ids.next("MD"),
        created_at=created + timedelta(minutes=5),
        creditor=org.creditor.id,
        customer=customer.id,
        customer_bank_account=account.id,
        scheme=CURRENCY_SCHEME[named.currency],
        reference=f"{org.creditor.bank_reference_prefix}-{state.ids.digits(8)}",
        status="active",
        ready_on=add_working_days(created.date(), 3),
    )
    org.mandates.add(mandate.id, mandate, customer=customer.id, customer_bank_account=account.id)
    for spec in named.payments:
        payment = _payment(state, mandate, spec, now)
        org.payments.add(payment.id, payment, mandate=mandate.id, customer=customer.id)
        # In-flight payments move on (with events and webhooks) as the clock advances.
        lifecycle.schedule_next_payment_step(state, org, payment, now.date())


def _payment(state: SimulatorState, mandate: Mandate, spec: NamedPayment, now: datetime) -> Payment:
    charge_date = _working_days_from(now.date(), spec.charge_in_working_days)
    return Payment(
        id=state.ids.next("PM"),
        created_at=min(now, datetime.combine(charge_date, now.timetz()) - timedelta(days=7)),
        amount=spec.amount,
        currency=SCHEME_CURRENCY[mandate.scheme],
        charge_date=charge_date,
        mandate=mandate.id,
        creditor=mandate.creditor,
        customer=mandate.customer,
        scheme=mandate.scheme,
        status=spec.status,
        description=spec.description,
    )


def _working_days_from(day: date, count: int) -> date:
    return add_working_days(day, count) if count >= 0 else subtract_working_days(day, -count)
