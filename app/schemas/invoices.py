"""Bodies of the invoice, payment and mandate-request endpoints (CONTRACT.md)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from app.money import MAX_DEBIT_MINOR_UNITS
from app.schemas.identifiers import GOCARDLESS_ID_MAX, MANDATE_ID


class ContactOut(BaseModel):
    id: str
    name: str | None
    email: str | None


class InvoiceOut(BaseModel):
    id: str
    number: str | None
    total: str = Field(description="Decimal string in the invoice currency, e.g. '120.50'")
    currency: str
    contact: ContactOut | None


class CustomerRef(BaseModel):
    id: str


class PayerOut(BaseModel):
    """Who a mandate collects from, so a user can tell two payers of one contact apart."""

    name: str | None = Field(description="The GoCardless customer's company or person name")
    bank_name: str | None
    account_number_ending: str | None
    account_holder_name: str | None


class MandateOut(BaseModel):
    id: str
    scheme: str | None
    currency: str | None
    status: str
    reference: str | None
    usable: bool = Field(description="It can take payments now and collects the invoice's currency")
    next_possible_charge_date: date | None = None
    payer: PayerOut | None = None


class PaymentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "PM00ABCD1234EF",
                    "status": "pending_submission",
                    "amount": 12050,
                    "currency": "GBP",
                    "charge_date": "2026-12-07",
                    "mandate_id": "MD00ABCD1234EF",
                    "invoice_id": "4150868000000700001",
                    "reference": None,
                }
            ]
        }
    )

    id: str
    status: str
    amount: int = Field(description="Minor units (pence, cents)")
    currency: str
    charge_date: date | None
    mandate_id: str | None
    invoice_id: str | None
    reference: str | None
    standing: str | None = Field(
        default=None,
        description="In the invoice popup: `holds` (collecting the invoice), `retry_pending` "
        "(failed; GoCardless will retry it, or it can be retried once its mandate is active), "
        "`retryable` (failed; Retry submits it again), `charged_back` (collecting again needs "
        "confirmation), `over` (a new payment may be made)",
    )
    standing_reason: str | None = Field(default=None, description="Why, in plain words")
    amount_refunded: int = Field(
        default=0, description="Minor units already given back by refunds (Refund… offers the rest)"
    )


class MandateRequestOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b6f5c1e-8a44-4c1e-9d0f-6f7d3c2a1b00",
                    "authorisation_url": "https://pay.gocardless.com/billing/static/flow?id=BRF1",
                    "email_sent_to": "jane.doe@example.com",
                    "status": "pending",
                    "expires_at": "2026-12-13T09:00:00.000Z",
                }
            ]
        }
    )

    id: uuid.UUID
    authorisation_url: str
    email_sent_to: str
    status: str = Field(
        description="`pending`; `exited` (the payer left the page: a re-send reopens it with "
        "a new link); `failed` or `cancelled` (a re-send makes a new request)"
    )
    expires_at: datetime | None = Field(
        default=None,
        description="When the link stops working (GoCardless flows last 7 days); a re-send "
        "shortly before, or after, emails a new link",
    )


class InvoiceMandates(BaseModel):
    invoice: InvoiceOut
    customer: CustomerRef | None
    mandates: list[MandateOut]
    payments: list[PaymentOut]
    mandate_request: MandateRequestOut | None = None


def _iso_date(value: object) -> object:
    """A date only as JSON can carry one: the string YYYY-MM-DD (no numbers, no times)."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return date.fromisoformat(value)
    raise ValueError("must be a date written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _json_integer(value: object) -> object:
    """JSON's integers as JSON Schema counts them: 2500.0 is 2500 (exact), 2500.5 is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Still strict after that: a string or a boolean is never a number here.
JsonInteger = Annotated[int, BeforeValidator(_json_integer)]


class PaymentCreate(BaseModel):
    # Strict: `{"charge_date": 20261207}` or `"mandate_id": 1` is an error, never converted.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"mandate_id": "MD00ABCD1234EF", "charge_date": None}]},
    )

    mandate_id: str = Field(max_length=GOCARDLESS_ID_MAX, pattern=MANDATE_ID)
    charge_date: IsoDate | None = None
    recollect_charged_back: bool = Field(
        default=False,
        description="Confirms collecting an invoice again although its payment was charged "
        "back (the customer disputed it); without it such an invoice answers 409 "
        "`payment_charged_back`",
    )


class PaymentEnvelope(BaseModel):
    payment: PaymentOut


class RefundCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"amount": 2500}]}
    )

    amount: JsonInteger = Field(
        gt=0,
        le=MAX_DEBIT_MINOR_UNITS,
        description="Minor units to give back: all that is left of the payment, or part of it",
    )


class RefundOut(BaseModel):
    id: str
    amount: int = Field(description="Minor units")
    status: str | None = Field(description="GoCardless's refund status, e.g. pending_submission")


class RefundEnvelope(BaseModel):
    refund: RefundOut


class MandateRequestEnvelope(BaseModel):
    mandate_request: MandateRequestOut


def _not_nullable(schema: dict[str, Any]) -> None:
    """The schema of a field that may be left out but not sent as null (its validator
    refuses null): without the null branch and the `null` default pydantic would state."""
    branches = schema.pop("anyOf")
    schema.pop("default", None)
    schema.update(next(branch for branch in branches if branch.get("type") != "null"))


class InstallationSettings(BaseModel):
    """Only the fields sent change; the others keep their values."""

    # Strict: 0, 1, "yes" or "true" are not booleans here.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"auto_collect_on_mandate": True},
                {
                    "invoice_status_on_collection": "Paid",
                    "invoice_collected_on": "paid_out",
                    "invoice_status_on_failure": "Approved",
                },
            ]
        },
    )

    auto_collect_on_mandate: bool | None = Field(
        default=None,
        json_schema_extra=_not_nullable,
        description="Collect the waiting invoice as soon as its customer completes the emailed "
        "mandate setup",
    )
    invoice_status_on_collection: str | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        description="Reconciliation: the Invoice Status picklist value set once a payment is "
        "collected; null switches it off",
    )
    invoice_collected_on: Literal["confirmed", "paid_out"] | None = Field(
        default=None,
        json_schema_extra=_not_nullable,
        description="When a payment counts as collected: GoCardless `confirmed` (default) or "
        "`paid_out`",
    )
    invoice_status_on_failure: str | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        description="Reconciliation: the Invoice Status picklist value set back when a payment "
        "fails or is charged back; null switches it off",
    )

    @field_validator("auto_collect_on_mandate", "invoice_collected_on", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Left out means "keep it"; these two have no "off" value, so null is a mistake.
        if value is None:
            raise ValueError("may be left out, but not null")
        return value
