"""Our mirror of each installation's GoCardless customers, mandates and payments.

`fetched_at` is when the data was read from GoCardless (the request's start): an older read
never overwrites a newer one, so a sync page and a webhook refetch may land in any order.
`crm_version` counts changes that the CRM has not seen; the CRM push marks a row synced only
if nothing changed while its upsert was in flight.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class CrmState(StrEnum):
    pending = "pending"
    synced = "synced"
    # The CRM refused the record; its reason is kept in crm_error and counted.
    rejected = "rejected"


class CrmTracked:
    crm_record_id: Mapped[str | None] = mapped_column(String(32))
    crm_state: Mapped[str] = mapped_column(String(16), default=CrmState.pending)
    crm_version: Mapped[int] = mapped_column(Integer, default=1)
    crm_synced_version: Mapped[int] = mapped_column(Integer, default=0)
    crm_error: Mapped[str | None] = mapped_column(Text)
    crm_attempts: Mapped[int] = mapped_column(Integer, default=0)
    crm_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class GcCustomer(CrmTracked, Base):
    __tablename__ = "gc_customers"
    __table_args__ = (
        Index("ix_gc_customers_email", "installation_id", "email_normalized"),
        # The CRM batches read due rows in id order: without it every batch sorts the whole
        # backlog, which made PostgreSQL the bottleneck of Sync Now. It is also the index of
        # pending rows (counts, the health view): one on every CRM state was written at each
        # row's every change and read by no query that needs it.
        Index(
            "ix_gc_customers_crm_due",
            "installation_id",
            "id",
            postgresql_where=text("crm_state = 'pending'"),
            sqlite_where=text("crm_state = 'pending'"),
        ),
    )

    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    given_name: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    company_name: Mapped[str | None] = mapped_column(String(255))
    gc_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    gc_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The Zoho Contact this customer belongs to (matched by email or set by a mandate request).
    contact_id: Mapped[str | None] = mapped_column(String(32))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GcMandate(Base):
    __tablename__ = "gc_mandates"
    __table_args__ = (Index("ix_gc_mandates_customer", "installation_id", "customer_id"),)

    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(32))
    scheme: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(255))
    next_possible_charge_date: Mapped[date | None] = mapped_column(Date)
    gc_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The payer's bank account, so the popup can tell two payers of one contact apart;
    # its details are read once, when the popup first shows the mandate.
    customer_bank_account_id: Mapped[str | None] = mapped_column(String(32))
    bank_name: Mapped[str | None] = mapped_column(String(255))
    account_number_ending: Mapped[str | None] = mapped_column(String(16))
    account_holder_name: Mapped[str | None] = mapped_column(String(255))
    # GoCardless replaced this mandate (a new scheme identifier): payments go to that one.
    new_mandate_id: Mapped[str | None] = mapped_column(String(32))


class GcPayment(CrmTracked, Base):
    __tablename__ = "gc_payments"
    __table_args__ = (
        Index("ix_gc_payments_mandate", "installation_id", "mandate_id"),
        # Partial indexes: a write updates an index only when the row is in it, and each
        # payment of Sync Now is written three times (listed, released, recorded), mostly
        # without an invoice or payout, and pending only until its upsert.
        Index(
            "ix_gc_payments_invoice",
            "installation_id",
            "invoice_id",
            postgresql_where=text("invoice_id IS NOT NULL"),
            sqlite_where=text("invoice_id IS NOT NULL"),
        ),
        Index(
            "ix_gc_payments_crm_pending",
            "installation_id",
            postgresql_where=text("crm_state = 'pending'"),
            sqlite_where=text("crm_state = 'pending'"),
        ),
        Index(
            "ix_gc_payments_payout",
            "installation_id",
            "payout_id",
            postgresql_where=text("payout_id IS NOT NULL"),
            sqlite_where=text("payout_id IS NOT NULL"),
        ),
        # As for customers; held payments (waiting for their customer during Sync Now) are
        # most of the backlog then and are left out, so a batch never scans past them.
        Index(
            "ix_gc_payments_crm_due",
            "installation_id",
            "id",
            postgresql_where=text("crm_state = 'pending' AND crm_hold IS false"),
            sqlite_where=text("crm_state = 'pending' AND crm_hold IS 0"),
        ),
    )

    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    mandate_id: Mapped[str | None] = mapped_column(String(32))
    # Minor units: GoCardless amounts can exceed a 32-bit integer (21,474,836.47).
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    charge_date: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    gc_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when the payment was created from a Zoho invoice (by us, per its metadata).
    invoice_id: Mapped[str | None] = mapped_column(String(32))
    gc_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Sync Now listed this payment before its customer was in the CRM (the chains run at
    # once): it waits, so its one upsert carries the Customer lookup.
    crm_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Minor units, as GoCardless counts them on the payment (refunds that bounced excluded).
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The latest failure or charge-back, in plain words, and the event that said it (by
    # its time, then id): an older event processed late never replaces a newer reason.
    failure_reason: Mapped[str | None] = mapped_column(Text)
    failure_reason_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_event_id: Mapped[str | None] = mapped_column(String(32))
    # Only the `paid_out` event names the payout; its arrival date is the Payout_Date.
    payout_id: Mapped[str | None] = mapped_column(String(32))
    payout_date: Mapped[date | None] = mapped_column(Date)
