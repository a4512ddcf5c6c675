"""Payments and mandate requests we create from Zoho invoices.

`invoice_payments` holds one row per attempt to collect an invoice; the partial unique index
allows one open (creating or live) row per invoice, which is what makes a double click, a
retry or a concurrent request end in one payment. A cancelled or failed payment closes its
row and frees the invoice for a new attempt with a new idempotency key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UTCDateTime, new_id


class InvoicePaymentState(StrEnum):
    live = "live"
    closed = "closed"


class InvoicePayment(Timestamps, Base):
    __tablename__ = "invoice_payments"
    __table_args__ = (
        Index(
            "uq_invoice_payments_open",
            "installation_id",
            "invoice_id",
            unique=True,
            postgresql_where=text("state = 'live'"),
            sqlite_where=text("state = 'live'"),
        ),
        Index("ix_invoice_payments_payment", "installation_id", "gc_payment_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE")
    )
    invoice_id: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    mandate_id: Mapped[str] = mapped_column(String(32))
    # Minor units: GoCardless amounts can exceed a 32-bit integer (21,474,836.47).
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Filled in once GoCardless answers, in the same transaction that inserted the row.
    gc_payment_id: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=InvoicePaymentState.live)
    created_by_user: Mapped[str | None] = mapped_column(String(32))


class MandateRequestStatus(StrEnum):
    pending = "pending"
    fulfilled = "fulfilled"
    cancelled = "cancelled"
    # GoCardless gave the request up (`failed`): a re-send makes a new one.
    failed = "failed"
    # The payer left the hosted page (`flow_exited`): a re-send reopens it with a new flow.
    exited = "exited"


class MandateRequest(Timestamps, Base):
    __tablename__ = "mandate_requests"
    __table_args__ = (
        Index(
            "uq_mandate_requests_pending",
            "installation_id",
            "invoice_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_mandate_requests_billing_request", "installation_id", "billing_request_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE")
    )
    invoice_id: Mapped[str] = mapped_column(String(32))
    contact_id: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3))
    # The invoice total when the link was sent: auto-collect takes no other amount.
    amount: Mapped[int | None] = mapped_column(BigInteger)
    billing_request_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[str] = mapped_column(String(32))
    flows_created: Mapped[int] = mapped_column(Integer, default=1)
    authorisation_url: Mapped[str] = mapped_column(Text)
    flow_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=MandateRequestStatus.pending)
    mandate_id: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    emails_sent: Mapped[int] = mapped_column(Integer, default=0)
    requested_by_user: Mapped[str | None] = mapped_column(String(32))


class PaymentNotice(Timestamps, Base):
    """The Note and Task one failure or charge-back event adds to its invoice in the CRM.

    One row per GoCardless event (unique), so redelivery, retries and crashes add them once;
    `*_started` marks a create that was sent, so after a crash the CRM is searched for it
    before anything is created again.
    """

    __tablename__ = "payment_notices"
    __table_args__ = (
        Index("uq_payment_notices_event", "installation_id", "event_id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(32))
    payment_id: Mapped[str] = mapped_column(String(32))
    invoice_id: Mapped[str] = mapped_column(String(32))
    note_id: Mapped[str | None] = mapped_column(String(32))
    note_started: Mapped[bool] = mapped_column(Boolean, default=False)
    task_id: Mapped[str | None] = mapped_column(String(32))
    task_started: Mapped[bool] = mapped_column(Boolean, default=False)


class PaymentRefund(Timestamps, Base):
    """A refund asked for from the widget: its idempotency key outlives retries and clicks."""

    __tablename__ = "payment_refunds"
    __table_args__ = (Index("ix_payment_refunds_payment", "installation_id", "payment_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE")
    )
    payment_id: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    refund_id: Mapped[str | None] = mapped_column(String(32))
    requested_by_user: Mapped[str | None] = mapped_column(String(32))
