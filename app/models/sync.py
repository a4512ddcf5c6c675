"""Sync Now's durable state, and leases that keep one worker on one job at a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UTCDateTime


class SyncState(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class SyncStage(StrEnum):
    # Every listing chain (customers, mandates, payment windows) runs at once, CRM upserts
    # alongside; the CRM stages then write what was left.
    listing = "listing"
    crm_customers = "crm_customers"
    crm_payments = "crm_payments"
    replay = "replay"
    done = "done"


class SyncRun(Timestamps, Base):
    """One per installation: Sync Now is offered once, and a crash resumes this row."""

    __tablename__ = "sync_runs"

    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16), default=SyncState.running)
    stage: Mapped[str] = mapped_column(String(16), default=SyncStage.listing)
    contacts_linked: Mapped[int] = mapped_column(Integer, default=0)
    contacts_ambiguous: Mapped[int] = mapped_column(Integer, default=0)
    # Where GoCardless's event stream stood when the sync began: replayed from here at the end.
    events_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    listing_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What Sync Now wrote, frozen when it finishes: records that webhooks bring later are
    # counted apart, so these figures never drift.
    customers_synced: Mapped[int | None] = mapped_column(Integer)
    customers_rejected: Mapped[int | None] = mapped_column(Integer)
    payments_synced: Mapped[int | None] = mapped_column(Integer)
    payments_rejected: Mapped[int | None] = mapped_column(Integer)


class SyncChain(Base):
    """One cursor chain of Sync Now's listing: a resource, or a `created_at` window of one.

    Each chain stores its own cursor with the page it belongs to, so a crash resumes every
    chain where it stood. A window lists `created_at` in [created_from, created_before);
    splitting a window lowers its `created_from` and gives the part below to a new chain.
    """

    __tablename__ = "sync_chains"

    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource: Mapped[str] = mapped_column(String(16))
    created_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # GoCardless's `after` cursor: where the next page starts (None before the first page).
    cursor: Mapped[str | None] = mapped_column(String(255))
    listed: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    # The `created_at` span listed so far (lists run newest first): where a split can fall.
    newest_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    oldest_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Lease(Base):
    """A named claim on a job (`sync:<id>`, `crm:<id>`), held while its owner process lives."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[int] = mapped_column(Integer)
