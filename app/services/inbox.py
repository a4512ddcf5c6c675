"""The webhook inbox: accept events durably (deduplicated by id), hand them to the worker."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.adapters.gocardless.models import Event
from app.models import EventStatus, InboxEvent

# `source` of the events a GoCardless webhook delivered (others: catch_up, sync_replay).
WEBHOOK_SOURCE = "webhook"

# Which link names the event's own resource, per resource type.
_RESOURCE_LINK = {
    "payments": "payment",
    "mandates": "mandate",
    "customers": "customer",
    "billing_requests": "billing_request",
    "refunds": "refund",
    "payouts": "payout",
    "creditors": "creditor",
    "organisations": "organisation",
}


def resource_id(event: Event) -> str | None:
    link = _RESOURCE_LINK.get(event.resource_type)
    value = getattr(event.links, link, None) if link else None
    return str(value) if value else None


def inbox_row(
    installation_id: uuid.UUID,
    event: Event,
    payload: dict[str, Any],
    source: str,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """`received_at`: one time for a whole webhook, so the worker can count webhooks
    (jobs/receiver_load.py)."""
    now = received_at or datetime.now(UTC)
    return {
        "installation_id": installation_id,
        "event_id": event.id,
        "resource_type": event.resource_type,
        "action": event.action,
        "resource_id": resource_id(event),
        "gc_created_at": event.created_at,
        "payload": payload,
        "source": source,
        "status": EventStatus.pending.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


async def enqueue(db: AsyncSession | AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert new events; ones we already hold (same id) are skipped. Returns how many were new.

    One statement of the same shape for any batch (executemany through the Core table), so
    its compiled form is cached: the webhook receiver pays no SQL compilation per request.
    """
    if not rows:
        return 0
    table = cast(Table, InboxEvent.__table__)
    result = await db.execute(
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.event_id])
        .returning(table.c.pk),
        list(rows),
    )
    return len(result.all())


async def enqueue_events(
    session: AsyncSession, installation_id: uuid.UUID, events: Sequence[Event], source: str
) -> int:
    rows = [
        inbox_row(installation_id, event, event.model_dump(mode="json"), source) for event in events
    ]
    return await enqueue(session, rows)
