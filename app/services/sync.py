"""Sync Now: one durable, resumable copy of every GoCardless customer and payment into the CRM.

Stages run in order and each stores its progress (the GoCardless cursor with the page it
belongs to, in one transaction), so a crash resumes from the last finished page. A lease keeps
one worker on one installation's sync; the run's row (one per installation) keeps it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import GoCardlessError
from app.adapters.gocardless.models import Page
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoError, ZohoSchemaMissing
from app.adapters.zoho.names import CONTACTS
from app.errors import (
    AppError,
    GoCardlessAccountInactive,
    GoCardlessNotAuthorized,
)
from app.log import get_logger
from app.models import (
    CrmState,
    EventCursor,
    GcCustomer,
    GcMandate,
    GcPayment,
    Installation,
    SyncRun,
    SyncStage,
    SyncState,
)
from app.runtime import Runtime
from app.schemas.installations import SyncStatus
from app.services import leases
from app.services.authorization import inactive_reason
from app.services.crm_push import (
    HeldLease,
    LeaseLost,
    crm_counts,
    push_customers,
    push_payments,
)
from app.services.inbox import enqueue_events
from app.services.installations import (
    gocardless_active,
    gocardless_usable,
    load_connections,
    require_gocardless,
)
from app.services.mirror import store_customers, store_mandates, store_payments
from app.services.providers import gocardless_client, zoho_crm

log = get_logger("app.services.sync")

LEASE_TTL = timedelta(minutes=2)
PAGE_SIZE = 500
# Events are listed from a little before the noted point: ids deduplicate the overlap.
EVENT_OVERLAP = timedelta(minutes=1)
_LISTING = (SyncStage.customers, SyncStage.mandates, SyncStage.payments)
_PROGRESS = {
    SyncStage.customers: 0.0,
    SyncStage.mandates: 0.1,
    SyncStage.payments: 0.2,
    SyncStage.contacts: 0.4,
    SyncStage.crm_customers: 0.45,
    SyncStage.crm_payments: 0.65,
    SyncStage.replay: 0.95,
    SyncStage.done: 1.0,
}


class SyncAlreadyDone(AppError):
    status, code, title = 409, "sync_already_done", "Sync Now has already run"


class CrmModulesMissing(AppError):
    status, code, title = 409, "crm_modules_missing", "The CRM lacks the GoCardless modules"


async def start_sync(
    session: AsyncSession, runtime: Runtime, installation: Installation
) -> SyncStatus:
    zoho, _ = await load_connections(session, installation.id)
    gocardless = await require_gocardless(session, runtime, installation)
    if not gocardless_active(gocardless):
        raise GoCardlessAccountInactive(inactive_reason(gocardless.verification_status))
    run = await session.get(SyncRun, installation.id, with_for_update=True)
    if run is not None and run.state != SyncState.failed:
        raise SyncAlreadyDone(
            "Sync Now has already run for this organisation; changes now arrive in real time"
            if run.state == SyncState.succeeded
            else "Sync Now is already running"
        )
    assert zoho is not None  # the widget dependency requires an authorized Zoho connection
    try:
        await zoho_crm(runtime, zoho).check_schema()
    except ZohoSchemaMissing as exc:
        raise CrmModulesMissing(exc.message, missing=exc.missing) from None
    now = datetime.now(UTC)
    if run is None:
        run = SyncRun(installation_id=installation.id, started_at=now)
        session.add(run)
    # A failed run resumes from where it stopped rather than starting over.
    run.state = SyncState.running
    run.error = None
    try:
        await session.flush()
    except IntegrityError:
        raise SyncAlreadyDone("Sync Now is already running") from None
    log.info("sync.started", installation_id=str(installation.id))
    return await sync_status(session, runtime, installation)


async def sync_status(
    session: AsyncSession, runtime: Runtime, installation: Installation
) -> SyncStatus:
    zoho, gocardless = await load_connections(session, installation.id)
    run = await session.get(SyncRun, installation.id)
    counts = await crm_counts(session, installation.id)
    can_start = gocardless_active(gocardless) and zoho is not None and zoho.status == "connected"
    if run is None:
        return SyncStatus(
            state="not_started",
            can_sync_now=can_start,
            customers_synced=counts["customers_synced"],
            payments_synced=counts["payments_synced"],
            progress=0.0,
        )
    return SyncStatus(
        state=run.state,
        can_sync_now=can_start and run.state == SyncState.failed,
        customers_synced=counts["customers_synced"],
        payments_synced=counts["payments_synced"],
        progress=_progress(run, counts),
        stage=run.stage,
        customers_listed=run.customers_listed,
        mandates_listed=run.mandates_listed,
        payments_listed=run.payments_listed,
        customers_rejected=counts["customers_rejected"],
        payments_rejected=counts["payments_rejected"],
        contacts_linked=run.contacts_linked,
        contacts_ambiguous=run.contacts_ambiguous,
        error=run.error,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def _progress(run: SyncRun, counts: dict[str, int]) -> float:
    stage = SyncStage(run.stage)
    base = _PROGRESS[stage]
    if stage is SyncStage.crm_customers and run.customers_listed:
        done = counts["customers_synced"] + counts["customers_rejected"]
        return round(base + 0.2 * min(done / run.customers_listed, 1.0), 3)
    if stage is SyncStage.crm_payments and run.payments_listed:
        done = counts["payments_synced"] + counts["payments_rejected"]
        return round(base + 0.3 * min(done / run.payments_listed, 1.0), 3)
    return base


async def due_syncs(runtime: Runtime) -> list[uuid.UUID]:
    async with runtime.sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    select(SyncRun.installation_id).where(SyncRun.state == SyncState.running)
                )
            ).all()
        )


async def run_sync(runtime: Runtime, installation_id: uuid.UUID) -> None:
    """Advance one installation's sync as far as it goes; safe to call from many workers."""
    lease = f"sync:{installation_id}"
    if not await leases.acquire(runtime.sessionmaker, lease, LEASE_TTL):
        return
    try:
        await _advance(runtime, installation_id, lease)
    except LeaseLost:
        # Our lease ran out while we were slow; the worker holding it now carries on.
        log.warning("sync.lease_lost", installation_id=str(installation_id))
    except (GoCardlessError, ZohoError) as exc:
        if exc.transient:
            # Left running: the next worker tick resumes from the stored stage and cursor.
            log.warning("sync.paused", installation_id=str(installation_id), error=str(exc))
        else:
            await _fail(runtime, installation_id, _describe(exc))
    except AppError as exc:
        await _fail(runtime, installation_id, exc.detail)
    finally:
        await leases.release(runtime.sessionmaker, lease)


async def _advance(runtime: Runtime, installation_id: uuid.UUID, lease: str) -> None:
    async with runtime.sessionmaker() as session:
        run = await session.get(SyncRun, installation_id)
        installation = await session.get(Installation, installation_id)
        zoho, gocardless = await load_connections(session, installation_id)
    if run is None or installation is None or run.state != SyncState.running:
        return
    if gocardless is None or not gocardless_usable(gocardless) or zoho is None:
        raise GoCardlessNotAuthorized("the GoCardless or Zoho connection went away")
    gc = gocardless_client(runtime, gocardless, priority="background")
    crm = zoho_crm(runtime, zoho)
    if run.events_since is None:
        await _note_event_position(runtime, gc, installation_id)
    stage = SyncStage(run.stage)
    if stage in _LISTING:
        while stage in _LISTING:
            stage = await _list_stage(runtime, gc, installation, lease, stage)
        await _analyze_mirror(runtime)
    held = HeldLease(lease, LEASE_TTL)
    if stage is SyncStage.contacts:
        await _link_contacts(runtime, crm, installation_id)
        stage = await _set_stage(runtime, installation_id, SyncStage.crm_customers)
    if stage is SyncStage.crm_customers:
        await push_customers(runtime, crm, installation_id, max_batches=10**9, lease=held)
        if await _pending(runtime, GcCustomer, installation_id):
            return
        stage = await _set_stage(runtime, installation_id, SyncStage.crm_payments)
    if stage is SyncStage.crm_payments:
        await push_payments(runtime, crm, installation_id, max_batches=10**9, lease=held)
        if await _pending(runtime, GcPayment, installation_id):
            return
        stage = await _set_stage(runtime, installation_id, SyncStage.replay)
    if stage is SyncStage.replay:
        await _replay_events(runtime, gc, installation_id)


async def _note_event_position(
    runtime: Runtime, gc: GoCardlessClient, installation_id: uuid.UUID
) -> None:
    newest = (await gc.list_events_page(after=None, limit=1)).items
    position = newest[0].created_at if newest and newest[0].created_at else None
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(events_since=position or datetime.now(UTC))
        )


_LISTERS: dict[SyncStage, Callable[[GoCardlessClient, str | None], Awaitable[Page[Any]]]] = {
    SyncStage.customers: lambda gc, after: gc.list_customers_page(after, PAGE_SIZE),
    SyncStage.mandates: lambda gc, after: gc.list_mandates_page(after, PAGE_SIZE),
    SyncStage.payments: lambda gc, after: gc.list_payments_page(after, PAGE_SIZE),
}
_NEXT = {
    SyncStage.customers: SyncStage.mandates,
    SyncStage.mandates: SyncStage.payments,
    SyncStage.payments: SyncStage.contacts,
}


async def _list_stage(
    runtime: Runtime,
    gc: GoCardlessClient,
    installation: Installation,
    lease: str,
    stage: SyncStage,
) -> SyncStage:
    """List one resource from the stored cursor to its end; returns the next stage.

    The next page is fetched while the current one is stored, so GoCardless's latency and
    our database writes overlap. Only stored pages move the cursor: a crash loses at most
    the page in flight, which is fetched again.
    """
    async with runtime.sessionmaker() as session:
        cursor = (await session.get(SyncRun, installation.id)).cursor  # type: ignore[union-attr]
    fetch = asyncio.create_task(_fetch_page(gc, stage, cursor))
    try:
        while True:
            fetched_at, page = await fetch
            if page.after:
                fetch = asyncio.create_task(_fetch_page(gc, stage, page.after))
            next_stage = stage if page.after else _NEXT[stage]
            await _store_page(runtime, installation, lease, stage, page, fetched_at, next_stage)
            if next_stage is not stage:
                return next_stage
    finally:
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, GoCardlessError):
                await fetch


async def _fetch_page(
    gc: GoCardlessClient, stage: SyncStage, cursor: str | None
) -> tuple[datetime, Page[Any]]:
    fetched_at = datetime.now(UTC)
    return fetched_at, await _LISTERS[stage](gc, cursor)


async def _store_page(
    runtime: Runtime,
    installation: Installation,
    lease: str,
    stage: SyncStage,
    page: Page[Any],
    fetched_at: datetime,
    next_stage: SyncStage,
) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        if not await leases.renew(session, lease, LEASE_TTL):
            raise LeaseLost("lost the sync lease to another worker")
        if stage is SyncStage.customers:
            await store_customers(session, installation.id, page.items, fetched_at)
        elif stage is SyncStage.mandates:
            await store_mandates(session, installation.id, page.items, fetched_at)
        else:
            await store_payments(
                session,
                installation.id,
                page.items,
                fetched_at,
                zoho_org_id=installation.zoho_org_id,
            )
        counter = getattr(SyncRun, f"{stage.value}_listed")
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation.id)
            .values(
                {
                    counter: counter + len(page.items),
                    SyncRun.cursor: page.after,
                    SyncRun.stage: next_stage.value,
                }
            )
        )


async def _analyze_mirror(runtime: Runtime) -> None:
    """Refresh the planner's statistics after a bulk load.

    The mirror tables may have grown from nothing to hundreds of thousands of rows in
    minutes, before autovacuum has looked at them; with stale statistics PostgreSQL plans
    the CRM stages' lookups as if the tables were empty (nested loops over every row).
    """
    async with runtime.sessionmaker() as session, session.begin():
        for table in (GcCustomer, GcMandate, GcPayment):
            await session.execute(text(f"ANALYZE {table.__tablename__}"))


async def _link_contacts(runtime: Runtime, crm: ZohoCRM, installation_id: uuid.UUID) -> None:
    """Link customers to Contacts by email, case-insensitively; shared emails stay unlinked."""
    contacts_by_email: dict[str, set[str]] = {}
    async for contact in crm.iter_records(CONTACTS, ["Email"]):
        email = str(contact.get("Email") or "").strip().lower()
        if email:
            contacts_by_email.setdefault(email, set()).add(str(contact["id"]))
    ambiguous = 0
    async with runtime.sessionmaker() as session, session.begin():
        customers = (
            await session.execute(
                select(GcCustomer.id, GcCustomer.email_normalized).where(
                    GcCustomer.installation_id == installation_id,
                    GcCustomer.contact_id.is_(None),
                    GcCustomer.email_normalized.is_not(None),
                )
            )
        ).all()
        links: list[dict[str, Any]] = []
        for customer_id, customer_email in customers:
            matches = contacts_by_email.get(customer_email or "", set())
            if len(matches) > 1:
                ambiguous += 1
            elif matches:
                links.append(
                    {
                        "installation_id": installation_id,
                        "id": customer_id,
                        "contact_id": next(iter(matches)),
                    }
                )
        linked = len(links)
        if links:
            # Bulk UPDATE by primary key: one statement for every linked customer.
            await session.execute(update(GcCustomer), links)
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(contacts_linked=linked, contacts_ambiguous=ambiguous)
        )
    log.info(
        "sync.contacts_linked",
        installation_id=str(installation_id),
        linked=linked,
        ambiguous=ambiguous,
    )


async def _replay_events(
    runtime: Runtime, gc: GoCardlessClient, installation_id: uuid.UUID
) -> None:
    async with runtime.sessionmaker() as session:
        run = await session.get(SyncRun, installation_id)
    assert run is not None and run.events_since is not None
    since = run.events_since - EVENT_OVERLAP
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
            break
        after = page.after
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        cursor = await session.get(EventCursor, installation_id)
        if cursor is None:
            session.add(EventCursor(installation_id=installation_id, seen_until=newest))
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(stage=SyncStage.done.value, state=SyncState.succeeded.value, finished_at=now)
        )
    log.info("sync.succeeded", installation_id=str(installation_id))


async def _set_stage(runtime: Runtime, installation_id: uuid.UUID, stage: SyncStage) -> SyncStage:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(stage=stage.value, cursor=None)
        )
    return stage


async def _pending(runtime: Runtime, table: Any, installation_id: uuid.UUID) -> bool:
    async with runtime.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(table)
            .where(
                table.installation_id == installation_id,
                table.crm_state == CrmState.pending.value,
            )
        )
    return bool(count)


async def _fail(runtime: Runtime, installation_id: uuid.UUID, reason: str) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(state=SyncState.failed.value, error=reason[:2000])
        )
    log.warning("sync.failed", installation_id=str(installation_id), error=reason)


def _describe(exc: GoCardlessError | ZohoError) -> str:
    if isinstance(exc, ZohoSchemaMissing):
        return exc.message
    if isinstance(exc, GoCardlessError):
        return f"GoCardless refused the sync: {exc.message}"
    return f"Zoho CRM refused the sync ({exc.code}): {exc.message}"
