"""Provider budgets shared by every process (see `app.services.budgets`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class RateBudget(Base):
    """A token bucket: `tokens` left at `refilled_at`, e.g. `gocardless:<organisation id>`."""

    __tablename__ = "rate_budgets"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[datetime] = mapped_column(UTCDateTime())
