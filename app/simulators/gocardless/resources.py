"""The simulated resources, held as slotted objects (hundreds of thousands fit in memory)
and rendered with every field the real API returns: absent values are `null`, while
`links` only carries the links that exist."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.simulators.gocardless.formats import timestamp

JSON = dict[str, Any]
ADDRESS_FIELDS = (
    "address_line1",
    "address_line2",
    "address_line3",
    "city",
    "region",
    "postal_code",
    "country_code",
)
CUSTOMER_FIELDS = (
    "email",
    "given_name",
    "family_name",
    "company_name",
    *ADDRESS_FIELDS,
    "language",
    "phone_number",
    "swedish_identity_number",
    "danish_identity_number",
)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _links(**links: str | None) -> dict[str, str]:
    return {name: value for name, value in links.items() if value is not None}


def _fx() -> JSON:
    return {
        "fx_currency": None,
        "fx_amount": None,
        "exchange_rate": None,
        "estimated_exchange_rate": None,
    }


@dataclass(slots=True)
class Customer:
    id: str
    created_at: datetime
    details: dict[str, str | None]
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JSON:
        body: JSON = {"id": self.id, "created_at": timestamp(self.created_at)}
        body.update({name: self.details.get(name) for name in CUSTOMER_FIELDS})
        body["metadata"] = dict(self.metadata)
        return body


@dataclass(slots=True)
class CustomerBankAccount:
    id: str
    created_at: datetime
    customer: str
    account_holder_name: str
    account_number_ending: str
    bank_name: str
    country_code: str
    currency: str
    enabled: bool = True
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "account_holder_name": self.account_holder_name,
            "account_number_ending": self.account_number_ending,
            "account_type": None,
            "bank_account_token": None,
            "bank_name": self.bank_name,
            "country_code": self.country_code,
            "currency": self.currency,
            "enabled": self.enabled,
            "metadata": dict(self.metadata),
            "payer_name_verification_result": None,
            "trusted_recipient": False,
            "links": {"customer": self.customer},
        }


@dataclass(slots=True)
class Mandate:
    id: str
    created_at: datetime
    creditor: str
    customer: str
    customer_bank_account: str
    scheme: str
    reference: str
    status: str
    ready_on: date  # the working day the bank is expected to have activated it
    next_possible_charge_date: date | None = None  # refreshed by the lifecycle on render
    metadata: dict[str, str] = field(default_factory=dict)
    new_mandate: str | None = None

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "authorisation_source": None,
            "consent_parameters": None,
            "consent_type": None,
            "funds_settlement": "managed",
            "mandate_type": "bank_debit",
            "metadata": dict(self.metadata),
            "next_possible_charge_date": _day(self.next_possible_charge_date),
            "next_possible_standard_ach_charge_date": None,
            "payments_require_approval": False,
            "reference": self.reference,
            "scheme": self.scheme,
            "status": self.status,
            "verified_at": None,
            "links": _links(
                creditor=self.creditor,
                customer=self.customer,
                customer_bank_account=self.customer_bank_account,
                new_mandate=self.new_mandate,
            ),
        }


@dataclass(slots=True)
class Payment:
    id: str
    created_at: datetime
    amount: int
    currency: str
    charge_date: date
    mandate: str
    creditor: str
    customer: str  # not rendered: GoCardless links payments to mandates only
    scheme: str
    status: str
    description: str | None = None
    reference: str | None = None
    app_fee: int | None = None
    retry_if_possible: bool = False
    amount_refunded: int = 0
    retries: int = 0
    # Success+ has booked an automatic retry of this failed payment (not rendered).
    auto_retry_pending: bool = False
    # The payout that carried it to the merchant: only the `paid_out` event links it.
    payout: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "amount": self.amount,
            "amount_refunded": self.amount_refunded,
            "app_fee": self.app_fee,
            "charge_date": self.charge_date.isoformat(),
            "currency": self.currency,
            "description": self.description,
            "faster_ach": False,
            "fx": _fx(),
            "metadata": dict(self.metadata),
            "reference": self.reference,
            "retry_if_possible": self.retry_if_possible,
            "scheme": self.scheme,
            "status": self.status,
            "links": {"creditor": self.creditor, "mandate": self.mandate},
        }


@dataclass(slots=True)
class Refund:
    id: str
    created_at: datetime
    amount: int
    currency: str
    payment: str
    mandate: str
    status: str
    reference: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "amount": self.amount,
            "currency": self.currency,
            "fx": _fx(),
            "metadata": dict(self.metadata),
            "reference": self.reference,
            "status": self.status,
            "links": {"mandate": self.mandate, "payment": self.payment},
        }


@dataclass(slots=True)
class Payout:
    """One day's collections in one currency, on their way to the merchant's bank."""

    id: str
    created_at: datetime
    amount: int
    currency: str
    arrival_date: date
    creditor: str
    creditor_bank_account: str
    reference: str
    status: str = "pending"

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "amount": self.amount,
            "arrival_date": self.arrival_date.isoformat(),
            "currency": self.currency,
            "deducted_fees": 0,
            "fx": _fx(),
            "metadata": {},
            "payout_type": "merchant",
            "reference": self.reference,
            "status": self.status,
            "tax_currency": None,
            "links": {
                "creditor": self.creditor,
                "creditor_bank_account": self.creditor_bank_account,
            },
        }


@dataclass(slots=True)
class Event:
    id: str | None
    created_at: datetime
    resource_type: str
    action: str
    links: dict[str, str]
    details: dict[str, Any]
    metadata: dict[str, str] = field(default_factory=dict)
    resource_metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "resource_type": self.resource_type,
            "action": self.action,
            "links": dict(self.links),
            "details": dict(self.details),
            "metadata": dict(self.metadata),
            "resource_metadata": dict(self.resource_metadata),
        }


@dataclass(slots=True)
class SchemeIdentifier:
    id: str
    created_at: datetime
    scheme: str
    currency: str
    name: str
    reference: str
    status: str = "active"

    def to_json(self, email: str) -> JSON:
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "name": self.name,
            "scheme": self.scheme,
            "currency": self.currency,
            "reference": self.reference,
            "status": self.status,
            "minimum_advance_notice": 3,
            "can_specify_mandate_reference": False,
            "address_line1": "1 Simulated Street",
            "address_line2": None,
            "address_line3": None,
            "city": "London",
            "region": None,
            "postal_code": "EC1V 7LQ",
            "country_code": "GB",
            "email": email,
            "phone_number": "+44 20 7183 8674",
        }


@dataclass(slots=True)
class Creditor:
    id: str
    created_at: datetime
    name: str
    email: str
    bank_reference_prefix: str
    verification_status: str
    scheme_identifiers: list[SchemeIdentifier]
    payout_accounts: dict[str, str]  # currency -> creditor bank account id
    can_create_refunds: bool = False

    def currencies(self) -> list[str]:
        return [s.currency for s in self.scheme_identifiers]

    def to_json(self) -> JSON:
        links = {
            f"default_{currency.lower()}_payout_account": account
            for currency, account in self.payout_accounts.items()
        }
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "name": self.name,
            "address_line1": "1 Simulated Street",
            "address_line2": None,
            "address_line3": None,
            "city": "London",
            "region": None,
            "postal_code": "EC1V 7LQ",
            "country_code": "GB",
            "bank_reference_prefix": self.bank_reference_prefix,
            "can_create_refunds": self.can_create_refunds,
            "creditor_type": "company",
            "custom_payment_pages_enabled": False,
            "fx_payout_currency": None,
            "logo_url": None,
            "mandate_imports_enabled": False,
            "merchant_responsible_for_notifications": False,
            "scheme_identifiers": [s.to_json(self.email) for s in self.scheme_identifiers],
            "verification_status": self.verification_status,
            "links": links,
        }
