"""Typed GoCardless resources, parsed straight from response bytes.

Only the fields we use are typed; anything else the API sends is kept (`extra="allow"`) and
never rejected, because GoCardless adds fields without a new API version. Statuses stay plain
strings for the same reason: a new status must reach the services, not break parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from app.money import SCHEME_CURRENCIES


class GoCardlessModel(BaseModel):
    # Fields we do not model are dropped: a page of 500 payments parsed a third faster
    # than when each kept its `fx`, `app_fee` and the rest. Events keep theirs (below).
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Kept(GoCardlessModel):
    """An event is stored as GoCardless sent it: every field, modelled or not."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Links(GoCardlessModel):
    """Every `links` object: ids of related resources, each optional."""


class SchemeIdentifier(GoCardlessModel):
    id: str | None = None
    scheme: str
    currency: str | None = None
    status: str | None = None
    name: str | None = None
    reference: str | None = None
    minimum_advance_notice: int | None = None


class Creditor(GoCardlessModel):
    id: str
    name: str | None = None
    created_at: datetime | None = None
    verification_status: str | None = None
    can_create_refunds: bool | None = None
    country_code: str | None = None
    creditor_type: str | None = None
    merchant_responsible_for_notifications: bool | None = None
    scheme_identifiers: list[SchemeIdentifier] = Field(default_factory=list)
    links: dict[str, str] = Field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return self.verification_status == "successful"


class Customer(GoCardlessModel):
    id: str
    created_at: datetime | None = None
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    company_name: str | None = None
    address_line1: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    language: str | None = None
    phone_number: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def display_name(self) -> str:
        person = " ".join(p for p in (self.given_name, self.family_name) if p)
        return self.company_name or person or self.email or self.id


class CustomerBankAccount(GoCardlessModel):
    id: str
    account_holder_name: str | None = None
    account_number_ending: str | None = None
    bank_name: str | None = None
    currency: str | None = None


class MandateLinks(Links):
    customer: str | None = None
    customer_bank_account: str | None = None
    creditor: str | None = None
    new_mandate: str | None = None


class Mandate(GoCardlessModel):
    id: str
    created_at: datetime | None = None
    reference: str | None = None
    scheme: str | None = None
    status: str
    next_possible_charge_date: date | None = None
    payments_require_approval: bool | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    links: MandateLinks = Field(default_factory=MandateLinks)

    @property
    def currency(self) -> str | None:
        """Mandates carry no currency: their scheme fixes it."""
        return SCHEME_CURRENCIES.get(self.scheme or "")


class PaymentLinks(Links):
    mandate: str | None = None
    creditor: str | None = None
    payout: str | None = None
    subscription: str | None = None


class Payment(GoCardlessModel):
    id: str
    created_at: datetime | None = None
    amount: int
    amount_refunded: int | None = None
    currency: str
    charge_date: date | None = None
    description: str | None = None
    reference: str | None = None
    status: str
    scheme: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    links: PaymentLinks = Field(default_factory=PaymentLinks)


class RefundLinks(Links):
    payment: str | None = None
    mandate: str | None = None


class Refund(GoCardlessModel):
    id: str
    created_at: datetime | None = None
    amount: int
    currency: str | None = None
    reference: str | None = None
    status: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    links: RefundLinks = Field(default_factory=RefundLinks)


class Payout(GoCardlessModel):
    id: str
    created_at: datetime | None = None
    amount: int | None = None
    currency: str | None = None
    # When the money is due in the merchant's bank account.
    arrival_date: date | None = None
    status: str | None = None
    reference: str | None = None


class MandateRequest(GoCardlessModel):
    currency: str | None = None
    scheme: str | None = None
    description: str | None = None
    verify: str | None = None
    links: dict[str, str] = Field(default_factory=dict)


class BillingRequestLinks(Links):
    customer: str | None = None
    customer_bank_account: str | None = None
    creditor: str | None = None
    organisation: str | None = None
    mandate_request: str | None = None
    mandate_request_mandate: str | None = None


class BillingRequest(GoCardlessModel):
    id: str
    created_at: datetime | None = None
    status: str
    mandate_request: MandateRequest | None = None
    actions: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    links: BillingRequestLinks = Field(default_factory=BillingRequestLinks)


class BillingRequestFlowLinks(Links):
    billing_request: str | None = None


class BillingRequestFlow(GoCardlessModel):
    id: str
    created_at: datetime | None = None
    authorisation_url: str
    expires_at: datetime | None = None
    redirect_uri: str | None = None
    exit_uri: str | None = None
    lock_currency: bool | None = None
    links: BillingRequestFlowLinks = Field(default_factory=BillingRequestFlowLinks)


class EventLinks(_Kept):
    organisation: str | None = None
    creditor: str | None = None
    customer: str | None = None
    mandate: str | None = None
    new_mandate: str | None = None
    payment: str | None = None
    refund: str | None = None
    payout: str | None = None
    billing_request: str | None = None
    billing_request_flow: str | None = None
    mandate_request_mandate: str | None = None
    parent_event: str | None = None


class EventDetails(_Kept):
    origin: str | None = None
    cause: str | None = None
    description: str | None = None
    scheme: str | None = None
    reason_code: str | None = None
    will_attempt_retry: bool | None = None
    not_retried_reason: str | None = None
    property: str | None = None


class Event(_Kept):
    # Null on `organisations`/`disconnected`, which GoCardless sends without an id.
    id: str | None = None
    created_at: datetime | None = None
    resource_type: str
    action: str
    details: EventDetails = Field(default_factory=EventDetails)
    links: EventLinks = Field(default_factory=EventLinks)
    metadata: dict[str, Any] = Field(default_factory=dict)
    resource_metadata: dict[str, Any] = Field(default_factory=dict)


ItemT = TypeVar("ItemT", bound=GoCardlessModel)

# Each response wraps its payload in the resource's plural name; the envelopes below accept
# whichever one is present so one generic model parses every resource in a single pass.
_RESOURCE_KEYS = AliasChoices(
    "creditors",
    "customers",
    "customer_bank_accounts",
    "mandates",
    "payments",
    "refunds",
    "payouts",
    "events",
    "billing_requests",
    "billing_request_flows",
)


class Cursors(BaseModel):
    before: str | None = None
    after: str | None = None


class ListMeta(BaseModel):
    cursors: Cursors = Field(default_factory=Cursors)
    limit: int | None = None


class ListEnvelope(BaseModel, Generic[ItemT]):
    items: list[ItemT] = Field(validation_alias=_RESOURCE_KEYS)
    meta: ListMeta = Field(default_factory=ListMeta)


class Linked(GoCardlessModel):
    """`GET /events?include=…`: the current state of the resources a page of events names.

    Only the kinds we mirror are typed; any other kind the API includes is kept as extra.
    """

    payments: list[Payment] = Field(default_factory=list)
    mandates: list[Mandate] = Field(default_factory=list)
    customers: list[Customer] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)
    creditors: list[Creditor] = Field(default_factory=list)
    billing_requests: list[BillingRequest] = Field(default_factory=list)


class EventListEnvelope(BaseModel):
    events: list[Event]
    linked: Linked = Field(default_factory=Linked)
    meta: ListMeta = Field(default_factory=ListMeta)


class ResourceEnvelope(BaseModel, Generic[ItemT]):
    item: ItemT = Field(validation_alias=_RESOURCE_KEYS)


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of a list; `after` is the cursor of the next page, None on the last."""

    items: list[ItemT]
    after: str | None


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of events with the resources they name, read in the same call."""

    items: list[Event]
    linked: Linked
    after: str | None
