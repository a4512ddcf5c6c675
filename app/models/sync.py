"""Sync Now's durable state, and leases that keep one worker on one job at a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UTCDateTime


class SyncState(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class SyncStage(StrEnum):
    customers = "customers"
    mandates = "mandates"
    payments = "payments"
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
    stage: Mapped[str] = mapped_column(String(16), default=SyncStage.customers)
    # GoCardless's `after` cursor of the listing stage in progress.
    cursor: Mapped[str | None] = mapped_column(String(255))
    customers_listed: Mapped[int] = mapped_column(Integer, default=0)
    mandates_listed: Mapped[int] = mapped_column(Integer, default=0)
    payments_listed: Mapped[int] = mapped_column(Integer, default=0)
    contacts_linked: Mapped[int] = mapped_column(Integer, default=0)
    contacts_ambiguous: Mapped[int] = mapped_column(Integer, default=0)
    # Where GoCardless's event stream stood when the sync began: replayed from here at the end.
    events_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Lease(Base):
    """A named claim on a job (`sync:<id>`, `crm:<id>`), held while its owner process lives."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[int] = mapped_column(Integer)
