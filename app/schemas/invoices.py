"""Bodies of the invoice, payment and mandate-request endpoints (CONTRACT.md)."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field


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


class MandateOut(BaseModel):
    id: str
    scheme: str | None
    currency: str | None
    status: str
    reference: str | None
    usable: bool
    next_possible_charge_date: date | None = None


class PaymentOut(BaseModel):
    id: str
    status: str
    amount: int = Field(description="Minor units (pence, cents)")
    currency: str
    charge_date: date | None
    mandate_id: str | None
    invoice_id: str | None
    reference: str | None


class MandateRequestOut(BaseModel):
    id: uuid.UUID
    authorisation_url: str
    email_sent_to: str
    status: str


class InvoiceMandates(BaseModel):
    invoice: InvoiceOut
    customer: CustomerRef | None
    mandates: list[MandateOut]
    payments: list[PaymentOut]
    mandate_request: MandateRequestOut | None = None


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mandate_id: str = Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    charge_date: date | None = None


class PaymentEnvelope(BaseModel):
    payment: PaymentOut


class MandateRequestEnvelope(BaseModel):
    mandate_request: MandateRequestOut


class InstallationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_collect_on_mandate: bool
