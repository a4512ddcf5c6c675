"""Sync Now's reads from GoCardless: each chain (see `chains`) listed page by page into
the mirror, and the event stream noted at the start and replayed at the end.

Each stored page moves its chain's stored cursor in the same transaction, so a crash loses
at most the pages in flight; each chain fetches its next page while the current one is
stored, so GoCardless's latency and our database writes overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import GoCardlessError
from app.adapters.gocardless.models import Customer, Page
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.names import CONTACTS
from app.db import uninterrupted
from app.models import GcCustomer, GcMandate, GcPayment, Installation, SyncChain, SyncRun
from app.runtime import Runtime
from app.services.crm.batches import Ready, ready_payments
from app.services.crm.push import TakeReady
from app.services.inbox import enqueue_events
from app.services.leases import HeldLease
from app.services.mirror import (
    NOTHING_DUE,
    Due,
    store_customers,
    store_mandates,
    store_payments,
)
from app.services.sync.chains import PAGE_SIZE, Chain

# Events are listed from a little before the noted point: ids deduplicate the overlap.
EVENT_OVERLAP = timedelta(minutes=1)
# Pages after which the mirror's statistics are refreshed: each time the table has doubled.
_ANALYZE_AT = frozenset(2**n for n in range(3, 20))

_LISTERS: dict[str, Callable[..., Awaitable[Page[Any]]]] = {
    "customers": GoCardlessClient.list_customers_page,
    "mandates": GoCardlessClient.list_mandates_page,
    "payments": GoCardlessClient.list_payments_page,
}


@dataclass(frozen=True)
class Contacts:
    """The CRM's Contacts by email (trimmed, lower-cased), read once before the customers
    are listed, so each customer is linked as it is stored: before its first upsert."""

    by_email: dict[str, set[str]]

    @classmethod
    async def load(cls, crm: ZohoCRM) -> Contacts:
        by_email: dict[str, set[str]] = {}
        async for contact in crm.iter_records(CONTACTS, ["Email"]):
            email = str(contact.get("Email") or "").strip().lower()
            if email:
                by_email.setdefault(email, set()).add(str(contact["id"]))
        return cls(by_email)

    async def link(
        self, session: AsyncSession, installation_id: uuid.UUID, customers: Sequence[Customer]
    ) -> tuple[int, int]:
        """Link each customer to the one Contact with its email; returns (linked, ambiguous).

        Shared emails stay unlinked; a customer already linked (by a mandate request) keeps
        its Contact.
        """
        links: list[dict[str, str]] = []
        ambiguous = 0
        for customer in customers:
            matches = self.by_email.get((customer.email or "").strip().lower(), set())
            if len(matches) > 1:
                ambiguous += 1
            elif matches:
                links.append({"b_id": customer.id, "b_contact": next(iter(matches))})
        if links:
            table = cast(Table, GcCustomer.__table__)
            await session.execute(
                update(table)
                .where(
                    table.c.installation_id == installation_id,
                    table.c.id == bindparam("b_id"),
                    table.c.contact_id.is_(None),
                )
                .values(contact_id=bindparam("b_contact")),
                links,
            )
        return len(links), ambiguous


class PageCounter:
    """Pages stored by every chain of one run: the mirror's statistics are refreshed as
    the tables double."""

    def __init__(self) -> None:
        self.stored = 0


async def list_chain(
    runtime: Runtime,
    gc: GoCardlessClient,
    installation: Installation,
    lease: HeldLease,
    chain: Chain,
    *,
    contacts: Contacts | None,
    counter: PageCounter,
    on_due: TakeReady,
    on_page: Callable[[], None] = lambda: None,
) -> None:
    """List one chain from its stored cursor to its end; `on_due` takes the payments each
    stored page makes due for the CRM, once the page is committed."""
    fetch = asyncio.create_task(_fetch_page(gc, chain, chain.cursor))
    try:
        while True:
            fetched_at, page = await fetch
            if page.after:
                fetch = asyncio.create_task(_fetch_page(gc, chain, page.after))
            due = await _store_page(runtime, installation, lease, chain, page, fetched_at, contacts)
            await on_due(due)
            counter.stored += 1
            if counter.stored in _ANALYZE_AT:
                await analyze_mirror(runtime)
            on_page()
            if page.after is None:
                return
    finally:
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, GoCardlessError):
                await fetch


async def _fetch_page(
    gc: GoCardlessClient, chain: Chain, cursor: str | None
) -> tuple[datetime, Page[Any]]:
    fetched_at = datetime.now(UTC)
    # The window is read as the call is made: a split since the last page applies at once.
    page = await _LISTERS[chain.resource](gc, cursor, PAGE_SIZE, **chain.filters())
    return fetched_at, page


async def _store_page(
    runtime: Runtime,
    installation: Installation,
    lease: HeldLease,
    chain: Chain,
    page: Page[Any],
    fetched_at: datetime,
    contacts: Contacts | None,
) -> list[Ready]:
    due: list[Ready] = []
    async with chain.lock:
        items = [item for item in page.items if chain.keeps(item.created_at)]
        seen = [item.created_at for item in items if item.created_at is not None]
        newest = max([*seen, *([chain.newest_seen] if chain.newest_seen else [])], default=None)
        oldest = min([*seen, *([chain.oldest_seen] if chain.oldest_seen else [])], default=None)
        now = datetime.now(UTC)

        async def write() -> None:
            async with runtime.sessionmaker() as session, session.begin():
                lease.check_not_stopping()
                stored = await _store_items(
                    session, installation, chain.resource, items, fetched_at, contacts
                )
                due[:] = await ready_payments(session, installation.id, stored)
                moved = await session.execute(
                    update(SyncChain)
                    .where(
                        SyncChain.installation_id == installation.id,
                        SyncChain.name == chain.name,
                        lease.holds(),
                    )
                    .values(
                        cursor=page.after,
                        listed=SyncChain.listed + len(items),
                        pages=SyncChain.pages + 1,
                        newest_seen=newest,
                        oldest_seen=oldest,
                        done=page.after is None,
                        started_at=chain.started_at or fetched_at,
                        finished_at=None if page.after else now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if not cast(CursorResult[Any], moved).rowcount:
                    raise lease.lost()

        # A chain stopped because another failed still stores the page it has in hand.
        await uninterrupted(write())
        chain.cursor = page.after
        chain.listed += len(items)
        chain.pages += 1
        chain.newest_seen, chain.oldest_seen = newest, oldest
        chain.done = page.after is None
        chain.started_at = chain.started_at or fetched_at
        chain.finished_at = None if page.after else now
    return due


async def _store_items(
    session: AsyncSession,
    installation: Installation,
    resource: str,
    items: list[Any],
    fetched_at: datetime,
    contacts: Contacts | None,
) -> Due:
    """Store a page; returns the payments it made due for the CRM."""
    if resource == "customers":
        await store_customers(session, installation.id, items, fetched_at)
        if contacts is not None:
            linked, ambiguous = await contacts.link(session, installation.id, items)
            if linked or ambiguous:
                await session.execute(
                    update(SyncRun)
                    .where(SyncRun.installation_id == installation.id)
                    .values(
                        contacts_linked=SyncRun.contacts_linked + linked,
                        contacts_ambiguous=SyncRun.contacts_ambiguous + ambiguous,
                    )
                )
        return NOTHING_DUE
    if resource == "mandates":
        return await store_mandates(session, installation.id, items, fetched_at)
    return await store_payments(
        session,
        installation.id,
        items,
        fetched_at,
        zoho_org_id=installation.zoho_org_id,
        hold_unlinked=True,
    )


async def analyze_mirror(runtime: Runtime) -> None:
    """Refresh the planner's statistics during and after a bulk load.

    The mirror tables grow from nothing to hundreds of thousands of rows in minutes, before
    autovacuum has looked at them; with stale statistics PostgreSQL plans lookups as if the
    tables were empty (nested loops over every row, seconds per CRM batch).
    """
    async with runtime.sessionmaker() as session, session.begin():
        for table in (GcCustomer, GcMandate, GcPayment):
            await session.execute(text(f"ANALYZE {table.__tablename__}"))


async def note_event_position(
    runtime: Runtime, gc: GoCardlessClient, installation_id: uuid.UUID
) -> datetime:
    """Where GoCardless's event stream stands before anything is listed."""
    newest = (await gc.list_events_page(after=None, limit=1)).items
    position = newest[0].created_at if newest and newest[0].created_at else datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(events_since=position)
        )
    return position


async def replay_events(
    runtime: Runtime, gc: GoCardlessClient, installation_id: uuid.UUID, since: datetime
) -> datetime:
    """Queue every event since `since` (what changed while the sync ran); returns the newest
    event's time, from where catch-up carries on."""
    since -= EVENT_OVERLAP
    newest = since
    after: str | None = None
    while True:
        page = await gc.list_events_page(
            after, created_at__gt=since.isoformat().replace("+00:00", "Z")
        )
        # One transaction per page: ids deduplicate a page read again after a crash.
        async with runtime.sessionmaker() as session, session.begin():
            await enqueue_events(session, installation_id, page.items, "sync_replay")
        for event in page.items:
            if event.created_at and event.created_at > newest:
                newest = event.created_at
        if page.after is None:
            return newest
        after = page.after
