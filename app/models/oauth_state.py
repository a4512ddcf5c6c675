"""Single-use OAuth state: the signed `state` names a row that a callback may consume once,
from the browser that started it; the authorize link that started it is used up with it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UTCDateTime


class OAuthState(Timestamps, Base):
    __tablename__ = "oauth_states"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    installation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The authorize link this flow used: unique, so a link starts one flow only.
    link_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Digest of the starting browser's cookie; the callback must come from the same browser.
    browser_hash: Mapped[str | None] = mapped_column(String(64))
