"""Heal missed webhooks: list GoCardless's events since the last one seen, enqueue the new ones."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from app.adapters.gocardless.errors import GoCardlessError
from app.log import get_logger
from app.models import ConnectionStatus, EventCursor, GoCardlessConnection
from app.runtime import Runtime
from app.services.inbox import enqueue_events
from app.services.providers import gocardless_client

log = get_logger("app.services.catch_up")

# Events can become visible in the list a little after their created_at; ids deduplicate.
OVERLAP = timedelta(minutes=5)


async def catch_up(runtime: Runtime, installation_id: uuid.UUID) -> int:
    """Returns how many events were new to us."""
    async with runtime.sessionmaker() as session:
        cursor = await session.get(EventCursor, installation_id)
        connection = await session.get(GoCardlessConnection, installation_id)
    if cursor is None or connection is None or connection.status != ConnectionStatus.connected:
        return 0
    gc = gocardless_client(runtime, connection, priority="background")
    since = cursor.seen_until - OVERLAP
    newest = cursor.seen_until
    found = 0
    after: str | None = None
    while True:
        page = await gc.list_events_page(
            after, created_at__gt=since.isoformat().replace("+00:00", "Z")
        )
        async with runtime.sessionmaker() as session, session.begin():
            found += await enqueue_events(session, installation_id, page.items, "catch_up")
        for event in page.items:
            if event.created_at and event.created_at > newest:
                newest = event.created_at
        if page.after is None:
            break
        after = page.after
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(EventCursor)
            .where(EventCursor.installation_id == installation_id)
            .values(seen_until=newest)
        )
    if found:
        log.info("catch_up.found_missed_events", installation_id=str(installation_id), count=found)
    return found


async def catch_up_all(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        installation_ids = list((await session.scalars(select(EventCursor.installation_id))).all())
    total = 0
    for installation_id in installation_ids:
        try:
            total += await catch_up(runtime, installation_id)
        except GoCardlessError as exc:
            log.warning("catch_up.failed", installation_id=str(installation_id), error=str(exc))
    return total
