"""Deterministic demo/test data: the nth seeded org always gets the same ids, people and
invoices, covering the cases the product must handle (contacts without email, two contacts
sharing one email, invoices in two currencies, an invoice without a contact)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.simulators.zoho.ids import IdSequence
from app.simulators.zoho.records import create_record
from app.simulators.zoho.schema import build_modules
from app.simulators.zoho.state import Currency, FromAddress, Org, User, ZohoSimState

_LOCATIONS = ("eu", "us", "in", "au")

_CONTACTS = (
    ("Jane", "Doe", "jane.doe@example.com"),
    ("John", "Smith", "john.smith@example.com"),
    ("Nora", "Noemail", None),
    ("Pat", "Shared", "shared.inbox@example.com"),
    ("Chris", "Shared", "shared.inbox@example.com"),
)

# (subject, contact index or None, grand total, currency, status)
_INVOICES = (
    ("Website redesign", 0, Decimal("120.00"), "GBP", "Approved"),
    ("Consulting March", 1, Decimal("250.50"), "EUR", "Approved"),
    ("Support plan", 2, Decimal("75.00"), "GBP", "Created"),
    ("Shared services", 3, Decimal("300.00"), "GBP", "Delivered"),
    ("Orphan invoice", None, Decimal("10.00"), "GBP", "Created"),
    ("Annual licence", 0, Decimal("1999.99"), "EUR", "Approved"),
)


@dataclass
class SeedSummary:
    org: Org
    contact_ids: list[str]
    invoice_ids: list[str]

    def as_json(self) -> dict[str, Any]:
        org = self.org
        users = list(org.users.values())
        return {
            "org_id": org.id,
            "zgid": org.zgid,
            "company_name": org.company_name,
            "location": org.location,
            "namespace": org.namespace,
            "admin_user_id": org.admin_user_id,
            "users": [
                {
                    "id": u.id,
                    "email": u.email,
                    "profile": org.profiles[u.profile_id],
                    "status": u.status,
                }
                for u in users
            ],
            "contact_ids": self.contact_ids,
            "invoice_ids": self.invoice_ids,
            "modules": [m.api_name for m in org.modules()],
        }


def seed_org(
    state: ZohoSimState,
    *,
    company_name: str | None = None,
    location: str | None = None,
    namespace: str | None = None,
    multi_currency: bool = True,
) -> SeedSummary:
    """`multi_currency=False` is a Standard/Professional edition org: GBP only, and its
    Invoices have no Currency field (every invoice is in the home currency)."""
    n = len(state.orgs) + 1
    prefix = 4_150_868 + 1_000 * (n - 1)
    ids = IdSequence(prefix)
    slug = f"org{prefix}"
    org = Org(
        id=ids.next(),
        zgid=str(prefix + 60_000_000),
        company_name=company_name or f"Zylker Traders {n}",
        domain_name=slug,
        location=location or _LOCATIONS[(n - 1) % len(_LOCATIONS)],
        namespace=state.options.namespace if namespace is None else namespace,
        time_zone="Europe/London",
        country_code="GB",
        home_currency="GBP",
        ids=ids,
    )
    org.currencies = {"GBP": Currency("GBP", "Pound Sterling", "£", Decimal("1"))}
    if multi_currency:
        org.currencies["EUR"] = Currency("EUR", "Euro", "€", Decimal("1.17"))
    admin_profile, standard_profile = ids.next(), ids.next()
    org.profiles = {admin_profile: "Administrator", standard_profile: "Standard"}
    ceo_role, rep_role = ids.next(), ids.next()
    org.roles = {ceo_role: "CEO", rep_role: "Sales Representative"}
    people = (
        ("Ada", "Admin", admin_profile, ceo_role, "active"),
        ("Sam", "Standard", standard_profile, rep_role, "active"),
        ("Dana", "Departed", standard_profile, rep_role, "disabled"),
    )
    for i, (first, last, profile, role, status) in enumerate(people):
        user = User(
            id=ids.next(),
            zuid=str(prefix * 100 + i + 1),
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@{slug}.example.com",
            profile_id=profile,
            role_id=role,
            status=status,
        )
        org.users[user.id] = user
    org.admin_user_id = next(iter(org.users))
    org.org_from_addresses = [FromAddress(ids.next(), f"billing@{slug}.example.com", "Billing")]
    for module in build_modules(ids, org.namespace, tuple(org.currencies)):
        org.add_module(module)
    state.orgs[org.id] = org

    now = state.now()
    contacts = org.store("Contacts")
    invoices = org.store("Invoices")
    assert contacts is not None and invoices is not None
    contact_ids = [
        create_record(
            org,
            contacts,
            {"First_Name": first, "Last_Name": last, "Email": email},
            org.admin_user_id,
            now,
        )["id"]
        for first, last, email in _CONTACTS
    ]
    invoice_ids = []
    for subject, contact, total, currency, status in _INVOICES:
        values: dict[str, Any] = {
            "Subject": subject,
            "Status": status,
            "Sub_Total": total,
            "Tax": Decimal("0.00"),
            "Grand_Total": total,
            "Invoice_Date": "2026-01-05",
            "Due_Date": "2026-02-04",
            "Contact_Name": contact_ids[contact] if contact is not None else None,
        }
        if multi_currency:
            values["Currency"] = currency
            values["Exchange_Rate"] = org.currencies[currency].exchange_rate
        invoice_ids.append(create_record(org, invoices, values, org.admin_user_id, now)["id"])
    return SeedSummary(org, contact_ids, invoice_ids)
