"""An installation's links to Zoho CRM and GoCardless; tokens are Fernet ciphertext only."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UTCDateTime


class ConnectionStatus(StrEnum):
    connected = "connected"
    # Zoho refused our refresh token (revoked or evicted): the admin must authorize again.
    needs_reauthorization = "needs_reauthorization"
    # The merchant disconnected our app in GoCardless.
    revoked = "revoked"


class ZohoConnection(Timestamps, Base):
    __tablename__ = "zoho_connections"

    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(String(32))
    accounts_server: Mapped[str] = mapped_column(String(255))
    api_domain: Mapped[str] = mapped_column(String(255))
    refresh_token_enc: Mapped[str] = mapped_column(Text)
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(32), default=ConnectionStatus.connected)
    status_reason: Mapped[str | None] = mapped_column(Text)
    authorized_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # ISO code of the org's home currency, read at authorization: invoices of orgs without
    # multi-currency carry no Currency and are in this one.
    home_currency: Mapped[str | None] = mapped_column(String(3))


class GoCardlessConnection(Timestamps, Base):
    __tablename__ = "gocardless_connections"

    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    # Webhooks are routed by organisation, so one organisation serves one installation.
    organisation_id: Mapped[str] = mapped_column(String(32), unique=True)
    environment: Mapped[str] = mapped_column(String(16))
    access_token_enc: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320))
    creditor_id: Mapped[str | None] = mapped_column(String(32))
    creditor_name: Mapped[str | None] = mapped_column(String(255))
    verification_status: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default=ConnectionStatus.connected)
    status_reason: Mapped[str | None] = mapped_column(Text)
    authorized_at: Mapped[datetime] = mapped_column(UTCDateTime())
