"""Throttle for mandate-setup emails: a CRM's send-mail quota is the merchant's, and customers
must not be mail-bombed. One email per invoice per `MANDATE_EMAIL_INTERVAL_SECONDS` (10
minutes), and at most `MANDATE_EMAILS_PER_HOUR` (50) per installation in any hour.

The check and the record of the email happen in the request's transaction, under a lock on the
installation row, so two simultaneous clicks cannot both pass; if sending then fails, the
record rolls back with everything else and the user may try again at once.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import TooManyRequests
from app.models import Installation, SetupEmail
from app.runtime import Runtime

HOUR = timedelta(hours=1)


async def reserve_setup_email(
    session: AsyncSession, runtime: Runtime, installation_id: uuid.UUID, invoice_id: str
) -> None:
    """Record that the invoice's setup link is emailed now, or refuse with 429."""
    settings = runtime.settings
    await session.scalar(
        select(Installation.id).where(Installation.id == installation_id).with_for_update()
    )
    now = runtime.clock()
    interval = timedelta(seconds=settings.mandate_email_interval_seconds)
    last: datetime | None = await session.scalar(
        select(func.max(SetupEmail.sent_at)).where(
            SetupEmail.installation_id == installation_id, SetupEmail.invoice_id == invoice_id
        )
    )
    if last is not None and now - last < interval:
        raise TooManyRequests(
            "The setup link for this invoice was emailed a moment ago; no email was sent. "
            "Ask the customer to check their inbox, or try again later.",
            retry_after=_seconds(last + interval - now),
        )
    sent_this_hour = (
        await session.scalars(
            select(SetupEmail.sent_at)
            .where(SetupEmail.installation_id == installation_id, SetupEmail.sent_at > now - HOUR)
            .order_by(SetupEmail.sent_at)
        )
    ).all()
    if len(sent_this_hour) >= settings.mandate_emails_per_hour:
        # Room again when enough of the hour's emails have aged out.
        frees_up = sent_this_hour[len(sent_this_hour) - settings.mandate_emails_per_hour]
        raise TooManyRequests(
            f"{len(sent_this_hour)} setup links were emailed in the last hour, the most this "
            "installation may send; no email was sent. Try again later.",
            retry_after=_seconds(frees_up + HOUR - now),
        )
    session.add(SetupEmail(installation_id=installation_id, invoice_id=invoice_id, sent_at=now))
    await session.flush()


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))
