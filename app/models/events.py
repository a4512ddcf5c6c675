"""The webhook inbox: every GoCardless event we accepted, processed later by the worker."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UTCDateTime

# SQLite (the demo) only auto-increments an INTEGER primary key.
EventPk = BigInteger().with_variant(Integer(), "sqlite")


class EventStatus(StrEnum):
    pending = "pending"
    processed = "processed"
    ignored = "ignored"
    # Gave up after the bounded retries; counted, and replayable by an operator.
    failed = "failed"


class InboxEvent(Timestamps, Base):
    __tablename__ = "gc_events"
    __table_args__ = (
        Index("ix_gc_events_due", "status", "next_attempt_at"),
        Index("ix_gc_events_installation_status", "installation_id", "status"),
    )

    pk: Mapped[int] = mapped_column(EventPk, primary_key=True, autoincrement=True)
    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE")
    )
    # Null only for `organisations`/`disconnected`, which GoCardless sends without an id.
    event_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(32))
    gc_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The owner key of the live process working on it (see services.ownership).
    claimed_by: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EventCursor(Timestamps, Base):
    """How far the catch-up job has read GoCardless's event list for an installation."""

    __tablename__ = "gc_event_cursors"

    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    seen_until: Mapped[datetime] = mapped_column(UTCDateTime())
    # When customers were last re-listed (GoCardless sends no event for a changed customer);
    # until the first time, the row's own creation (Sync Now had just listed them).
    customers_reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
