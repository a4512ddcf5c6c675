"""Every mandate-setup email sent, for the throttle: one per invoice per interval, and an
hourly cap per installation (the CRM's send-mail quota is the merchant's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, new_id


class SetupEmail(Base):
    __tablename__ = "setup_emails"
    __table_args__ = (
        Index("ix_setup_emails_sent", "installation_id", "sent_at"),
        Index("ix_setup_emails_invoice", "installation_id", "invoice_id", "sent_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE")
    )
    invoice_id: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
