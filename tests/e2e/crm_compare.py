"""Record-for-record comparison of the CRM's two GoCardless modules with GoCardless's state.

Written from the contract (CONTRACT.md, "What lands in the CRM"), not from our push code, so
a mapping mistake there shows up here. Reads both simulators' memory directly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.simulators.gocardless.resources import Customer, Payment
from app.simulators.gocardless.state import Organisation
from app.simulators.zoho.state import Org

CUSTOMERS = "GoCardless_Customers"
PAYMENTS = "GoCardless_Payments"
# Standard fields keep their names under an extension namespace; custom ones are prefixed.
STANDARD_FIELDS = frozenset({"Name", "Email", "id"})
NAME_LIMIT = 120


@dataclass(frozen=True)
class CrmView:
    """The CRM's two modules keyed by GoCardless id (logical field names)."""

    customers: dict[str, dict[str, Any]]
    payments: dict[str, dict[str, Any]]
    # GoCardless ids that more than one CRM record carries.
    duplicates: list[str]


def crm_view(org: Org, namespace: str = "") -> CrmView:
    def module(name: str, id_field: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
        store = org.store(namespace + name)
        assert store is not None, f"the CRM has no {namespace + name} module"
        rows = [
            {_logical(key, namespace): value for key, value in record.items()}
            for record in store.records.values()
        ]
        seen = Counter(str(row.get(id_field)) for row in rows)
        return {str(row.get(id_field)): row for row in rows}, [k for k, n in seen.items() if n > 1]

    customers, customer_dupes = module(CUSTOMERS, "GoCardless_Customer_ID")
    payments, payment_dupes = module(PAYMENTS, "GoCardless_Payment_ID")
    return CrmView(customers, payments, customer_dupes + payment_dupes)


def _logical(api_name: str, namespace: str) -> str:
    if namespace and api_name.startswith(namespace):
        return api_name[len(namespace) :]
    return api_name


def expected_contact(org: Org, email: str | None) -> str | None:
    """The Contact a customer is linked to: the one Contact with that email, if exactly one."""
    if not email:
        return None
    contacts = org.store("Contacts")
    assert contacts is not None
    wanted = email.strip().casefold()
    matches = [
        record_id
        for record_id, record in contacts.records.items()
        if str(record.get("Email") or "").strip().casefold() == wanted
    ]
    return matches[0] if len(matches) == 1 else None


def customer_name(customer: Customer) -> str:
    details = customer.details
    person = " ".join(p for p in (details.get("given_name"), details.get("family_name")) if p)
    return (details.get("company_name") or person or details.get("email") or customer.id)[
        :NAME_LIMIT
    ]


def _same_instant(crm_value: Any, moment: datetime) -> bool:
    if not isinstance(crm_value, str):
        return False
    return datetime.fromisoformat(crm_value) == moment.replace(microsecond=0)


def customer_mismatches(merchant: Organisation, crm_org: Org, view: CrmView) -> list[str]:
    problems: list[str] = []
    for customer in merchant.customers.newest_first():
        record = view.customers.get(customer.id)
        if record is None:
            problems.append(f"customer {customer.id} is missing from the CRM")
            continue
        details = customer.details
        expected = {
            "Name": customer_name(customer),
            "Email": details.get("email"),
            "Company_Name": details.get("company_name"),
            "Contact": expected_contact(crm_org, details.get("email")),
        }
        for field, value in expected.items():
            if record.get(field) != value:
                problems.append(
                    f"customer {customer.id}: {field} is {record.get(field)!r}, want {value!r}"
                )
        if not _same_instant(record.get("Created_At"), customer.created_at):
            problems.append(
                f"customer {customer.id}: Created_At is {record.get('Created_At')!r}, "
                f"want {customer.created_at.isoformat()}"
            )
    extra = set(view.customers) - {c.id for c in merchant.customers.newest_first()}
    problems += [f"the CRM holds customer {c} that GoCardless does not" for c in sorted(extra)]
    return problems


def payment_mismatches(merchant: Organisation, view: CrmView) -> list[str]:
    problems: list[str] = []
    for payment in merchant.payments.newest_first():
        record = view.payments.get(payment.id)
        if record is None:
            problems.append(f"payment {payment.id} is missing from the CRM")
            continue
        for field, value in _expected_payment(merchant, payment, view).items():
            if record.get(field) != value:
                problems.append(
                    f"payment {payment.id}: {field} is {record.get(field)!r}, want {value!r}"
                )
    extra = set(view.payments) - {p.id for p in merchant.payments.newest_first()}
    problems += [f"the CRM holds payment {p} that GoCardless does not" for p in sorted(extra)]
    return problems


def _payment_name(payment: Payment) -> str:
    return payment.metadata.get("zoho_invoice_number") or payment.reference or payment.id


def _expected_payment(merchant: Organisation, payment: Payment, view: CrmView) -> dict[str, Any]:
    mandate = merchant.mandates.get(payment.mandate)
    customer_record = view.customers.get(mandate.customer) if mandate else None
    return {
        # One rule: an invoice's payment is named by its number, else reference, else id.
        "Name": _payment_name(payment)[:NAME_LIMIT],
        # Both simulated currencies have two decimals.
        "Amount": Decimal(payment.amount) / 100,
        "Currency": payment.currency,
        "Status": payment.status,
        "Charge_Date": payment.charge_date.isoformat(),
        "GoCardless_Mandate_ID": payment.mandate,
        "Customer": customer_record["id"] if customer_record else None,
        "Description": payment.description,
        "Amount_Refunded": Decimal(payment.amount_refunded) / 100,
        "Payout_Date": _payout_date(merchant, payment),
        "Failure_Reason": _failure_reason(merchant, payment),
    }


def _payout_date(merchant: Organisation, payment: Payment) -> str | None:
    payout = merchant.payouts.get(payment.payout) if payment.payout else None
    return payout.arrival_date.isoformat() if payout else None


def _failure_reason(merchant: Organisation, payment: Payment) -> str | None:
    """The latest failed or charged_back event's cause and description, in words."""
    events = [
        event
        for event_id in merchant.events.ids_for("payment", payment.id)
        if (event := merchant.events.get(event_id)) is not None
        and event.resource_type == "payments"
        and event.action in ("failed", "charged_back")
    ]
    if not events:
        return None
    latest = max(events, key=lambda e: (e.created_at, e.id or ""))
    cause = str(latest.details.get("cause") or "").replace("_", " ")
    return f"{cause}: {latest.details.get('description')}"


def mismatches(merchant: Organisation, crm_org: Org, namespace: str = "") -> list[str]:
    """Every way the CRM differs from GoCardless; empty when they agree record for record."""
    view = crm_view(crm_org, namespace)
    problems = [f"GoCardless id {d} is in the CRM more than once" for d in view.duplicates]
    return (
        problems + customer_mismatches(merchant, crm_org, view) + payment_mismatches(merchant, view)
    )
