"""An org's installation of the extension and the API keys its widget uses."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Uuid, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UTCDateTime, new_id


class Audience(StrEnum):
    admins = "admins"
    all_users = "all_users"
    profiles = "profiles"


class InstallationStatus(StrEnum):
    active = "active"
    # Kept as a tombstone so a repeated uninstall is harmless and its key answers 401 at once.
    uninstalled = "uninstalled"


class Installation(Timestamps, Base):
    __tablename__ = "installations"
    __table_args__ = (
        # One active installation per org; uninstalled ones may pile up.
        Index(
            "uq_installations_active_org",
            "zoho_org_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    zoho_org_id: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(16))
    profile_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=InstallationStatus.active)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Collect the waiting invoice as soon as its customer completes the mandate setup.
    auto_collect_on_mandate: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Reconciliation (off while both values are null): the Invoice Status picklist value
    # set once a payment is collected (on `confirmed` or on `paid_out`, as chosen), and
    # the one set back when it fails or is charged back.
    invoice_status_collected: Mapped[str | None] = mapped_column(String(120))
    invoice_status_collected_on: Mapped[str] = mapped_column(
        String(16), default="confirmed", server_default="confirmed"
    )
    invoice_status_failed: Mapped[str | None] = mapped_column(String(120))


class ApiKey(Timestamps, Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    # Only the digest is stored: the key itself is shown once, at creation.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
