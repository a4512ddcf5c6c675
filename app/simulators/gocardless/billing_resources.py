"""Billing requests (mandate requests only) and their hosted flows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.simulators.gocardless.formats import timestamp
from app.simulators.gocardless.resources import (
    JSON,
    Customer,
    CustomerBankAccount,
)

# The list endpoint leaves these out of each request (as the API reference's schema does).
DETAIL_ONLY_FIELDS = (
    "actions",
    "fallback_enabled",
    "fallback_occurred",
    "payment_context_code",
    "payment_purpose_code",
    "purpose_code",
    "resources",
)
PREFILLED_CUSTOMER_FIELDS = (
    "given_name",
    "family_name",
    "company_name",
    "email",
    "address_line1",
    "address_line2",
    "address_line3",
    "city",
    "region",
    "postal_code",
    "country_code",
    "danish_identity_number",
    "swedish_identity_number",
)


@dataclass(slots=True)
class BillingRequest:
    id: str
    created_at: datetime
    creditor: str
    organisation: str
    mandate_request_id: str
    currency: str | None
    scheme: str | None
    status: str = "pending"
    description: str | None = None
    verify: str = "recommended"
    mandate_request_metadata: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    fallback_enabled: bool = False
    purpose_code: str | None = None
    customer: str | None = None
    customer_bank_account: str | None = None
    customer_billing_detail: str | None = None
    mandate: str | None = None
    flows: list[str] = field(default_factory=list)

    def actions(self) -> list[JSON]:
        done = self.status == "fulfilled"
        have_bank = self.customer_bank_account is not None
        have_customer = self.customer is not None and self.customer_billing_detail is not None
        return [
            _action("choose_currency", [], "completed" if self.currency else "pending"),
            {
                **_action(
                    "collect_customer_details",
                    ["choose_currency"],
                    "completed" if have_customer else "pending",
                ),
                "collect_customer_details": {
                    "default_country_code": "GB",
                    "incomplete_fields": {
                        "customer": [] if have_customer else ["given_name", "family_name", "email"],
                        "customer_billing_detail": []
                        if have_customer
                        else ["address_line1", "city", "postal_code", "country_code"],
                    },
                },
            },
            {
                **_action(
                    "collect_bank_account",
                    ["choose_currency"],
                    "completed" if have_bank else "pending",
                ),
                "available_currencies": [self.currency] if self.currency else [],
            },
            _action(
                "confirm_payer_details",
                ["collect_customer_details", "collect_bank_account"],
                "completed" if done else "pending",
            ),
        ]

    def to_json(self, customer: Customer | None, bank_account: CustomerBankAccount | None) -> JSON:
        links = {
            "creditor": self.creditor,
            "organisation": self.organisation,
            "mandate_request": self.mandate_request_id,
            "customer": self.customer,
            "customer_billing_detail": self.customer_billing_detail,
            "customer_bank_account": self.customer_bank_account,
            "mandate_request_mandate": self.mandate,
        }
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "status": self.status,
            "actions": self.actions(),
            "fallback_enabled": self.fallback_enabled,
            "fallback_occurred": False,
            "metadata": dict(self.metadata),
            "purpose_code": self.purpose_code,
            "payment_purpose_code": None,
            "payment_context_code": None,
            "mandate_request": {
                "currency": self.currency,
                "scheme": self.scheme,
                "description": self.description,
                "verify": self.verify,
                "metadata": dict(self.mandate_request_metadata),
                "authorisation_source": None,
                "consent_type": None,
                "constraints": None,
                "funds_settlement": "managed",
                "payer_requested_dual_signature": False,
                "sweeping": False,
                "links": {"mandate": self.mandate} if self.mandate else {},
            },
            "payment_request": None,
            "subscription_request": None,
            "instalment_schedule_request": None,
            "resources": {
                "customer": _resource_customer(customer),
                "customer_billing_detail": _billing_detail(self, customer),
                "customer_bank_account": bank_account.to_json() if bank_account else None,
            },
            "links": {name: value for name, value in links.items() if value is not None},
        }


def _action(kind: str, requires: list[str], status: str) -> JSON:
    return {
        "type": kind,
        "required": True,
        "completes_actions": [],
        "requires_actions": requires,
        "status": status,
        "available_currencies": None,
        "bank_authorisation": None,
        "collect_customer_details": None,
        "institution_guess_status": None,
    }


def _resource_customer(customer: Customer | None) -> JSON | None:
    if customer is None:
        return None
    full = customer.to_json()
    keep = ("id", "created_at", "email", "given_name", "family_name", "company_name")
    return {
        **{k: full[k] for k in keep},
        "language": full["language"],
        "phone_number": full["phone_number"],
        "metadata": full["metadata"],
    }


def _billing_detail(request: BillingRequest, customer: Customer | None) -> JSON | None:
    if customer is None or request.customer_billing_detail is None:
        return None
    details = customer.details
    return {
        "id": request.customer_billing_detail,
        "created_at": timestamp(customer.created_at),
        "address_line1": details.get("address_line1"),
        "address_line2": details.get("address_line2"),
        "address_line3": details.get("address_line3"),
        "city": details.get("city"),
        "region": details.get("region"),
        "postal_code": details.get("postal_code"),
        "country_code": details.get("country_code"),
        "danish_identity_number": None,
        "swedish_identity_number": None,
        "ip_address": None,
        "schemes": [request.scheme] if request.scheme else [],
    }


@dataclass(slots=True)
class BillingRequestFlow:
    id: str
    created_at: datetime
    expires_at: datetime
    billing_request: str
    authorisation_url: str
    redirect_uri: str | None = None
    exit_uri: str | None = None
    language: str = "en"
    auto_fulfil: bool = True
    lock_currency: bool = False
    lock_customer_details: bool = False
    lock_bank_account: bool = False
    show_redirect_buttons: bool = False
    show_success_redirect_button: bool = False
    skip_success_screen: bool = False
    customer_details_captured: bool = False
    prefilled_customer: dict[str, Any] = field(default_factory=dict)
    prefilled_bank_account: dict[str, Any] = field(default_factory=dict)
    session_token: str | None = None
    visited: bool = False
    expired: bool = False

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "expires_at": timestamp(self.expires_at),
            "authorisation_url": self.authorisation_url,
            "auto_fulfil": self.auto_fulfil,
            "customer_details_captured": self.customer_details_captured,
            "exit_uri": self.exit_uri,
            "redirect_uri": self.redirect_uri,
            "language": self.language,
            "lock_bank_account": self.lock_bank_account,
            "lock_currency": self.lock_currency,
            "lock_customer_details": self.lock_customer_details,
            "prefilled_bank_account": {
                "account_type": self.prefilled_bank_account.get("account_type")
            },
            "prefilled_customer": {
                name: self.prefilled_customer.get(name) for name in PREFILLED_CUSTOMER_FIELDS
            },
            "session_token": self.session_token,
            "show_redirect_buttons": self.show_redirect_buttons,
            "show_success_redirect_button": self.show_success_redirect_button,
            "skip_success_screen": self.skip_success_screen,
            "links": {"billing_request": self.billing_request},
        }
