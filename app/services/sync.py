"""Sync Now: one durable, resumable copy of every GoCardless customer and payment into the CRM.

Customers (matched to Contacts as they are stored), mandates and payments are listed while
the CRM upserts run alongside; what is left then goes to the CRM; the events of the
meantime are replayed. Progress is stored as it is made (the GoCardless cursor with the page
it belongs to, in one transaction; the CRM state on each mirror row), so a crash resumes
from the last finished page. A lease keeps one worker on one installation's sync; the run's
row (one per installation) keeps it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import GoCardlessError
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoError, ZohoSchemaMissing
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
from app.services.crm_push import crm_counts, push_customers, push_payments
from app.services.installations import (
    gocardless_active,
    gocardless_usable,
    load_connections,
    require_gocardless,
    zoho_usable,
)
from app.services.leases import HeldLease, LeaseLost, Stopping
from app.services.providers import gocardless_client, zoho_crm
from app.services.sync_listing import (
    Contacts,
    analyze_mirror,
    list_stage,
    note_event_position,
    replay_events,
)

log = get_logger("app.services.sync")

_LISTING = (SyncStage.customers, SyncStage.mandates, SyncStage.payments)
_PROGRESS = {
    SyncStage.customers: 0.0,
    SyncStage.mandates: 0.1,
    SyncStage.payments: 0.2,
    SyncStage.crm_customers: 0.6,
    SyncStage.crm_payments: 0.7,
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
    can_start = gocardless_active(gocardless) and zoho_usable(zoho)
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
        return round(base + 0.1 * min(done / run.customers_listed, 1.0), 3)
    if stage is SyncStage.crm_payments and run.payments_listed:
        done = counts["payments_synced"] + counts["payments_rejected"]
        return round(base + 0.25 * min(done / run.payments_listed, 1.0), 3)
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
    name = f"sync:{installation_id}"
    owner = await leases.acquire(runtime, name)
    if owner is None:
        return
    try:
        await _advance(runtime, installation_id, HeldLease(name, owner, runtime.stopping))
    except Stopping:
        # Between two pages: the stored stage and cursor resume it in the next process.
        log.info("sync.stopped", installation_id=str(installation_id))
    except LeaseLost:
        # Our process counted as dead for a moment (its owner connection broke) and another
        # worker took the sync over; it carries on from the stored progress.
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
        await leases.release(runtime, name, owner)


async def _advance(runtime: Runtime, installation_id: uuid.UUID, lease: HeldLease) -> None:
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
    events_since = run.events_since or await note_event_position(runtime, gc, installation_id)
    stage = SyncStage(run.stage)
    if stage in _LISTING:
        stage = await _list_while_pushing(runtime, gc, crm, installation, lease, stage)
        await analyze_mirror(runtime)
    if stage is SyncStage.crm_customers:
        await push_customers(runtime, crm, installation_id, max_batches=10**9, lease=lease)
        if await _pending(runtime, GcCustomer, installation_id):
            return
        stage = await _set_stage(runtime, installation_id, SyncStage.crm_payments)
    if stage is SyncStage.crm_payments:
        await push_payments(runtime, crm, installation_id, max_batches=10**9, lease=lease)
        if await _pending(runtime, GcPayment, installation_id):
            return
        stage = await _set_stage(runtime, installation_id, SyncStage.replay)
    if stage is SyncStage.replay:
        await _finish(runtime, gc, installation_id, events_since)


async def _list_while_pushing(
    runtime: Runtime,
    gc: GoCardlessClient,
    crm: ZohoCRM,
    installation: Installation,
    lease: HeldLease,
    stage: SyncStage,
) -> SyncStage:
    """List customers, mandates and payments while the CRM upserts run alongside.

    Listing is bound by GoCardless's rate limit, the upserts by Zoho's concurrency cap:
    overlapping them makes the sync take about the longer of the two, not their sum. Only
    full batches go out meanwhile; each module's partial batch waits for the CRM stages, so
    the number of upserts stays the minimum. Customers are matched to Contacts as they are
    stored, so each goes to the CRM once, with its Contact.
    """
    contacts = await Contacts.load(crm) if stage is SyncStage.customers else None
    page_stored = asyncio.Event()
    listing_done = False

    async def push_alongside() -> None:
        while not listing_done:
            page_stored.clear()
            for push in (push_customers, push_payments):
                await push(
                    runtime,
                    crm,
                    installation.id,
                    max_batches=10**9,
                    lease=lease,
                    full_batches_only=True,
                )
            await page_stored.wait()

    def page_done() -> None:
        page_stored.set()
        if pusher.done():
            pusher.result()  # what stopped the pusher stops the listing too

    pusher = asyncio.create_task(push_alongside())
    try:
        while stage in _LISTING:
            stage = await list_stage(
                runtime, gc, installation, lease, stage, contacts=contacts, on_page=page_done
            )
    except BaseException:
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher
        raise
    listing_done = True
    page_stored.set()
    # Rows the pusher has in flight are not read again until it has recorded them.
    await pusher
    return stage


async def _finish(
    runtime: Runtime, gc: GoCardlessClient, installation_id: uuid.UUID, since: datetime
) -> None:
    newest = await replay_events(runtime, gc, installation_id, since)
    async with runtime.sessionmaker() as session, session.begin():
        if await session.get(EventCursor, installation_id) is None:
            session.add(EventCursor(installation_id=installation_id, seen_until=newest))
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(
                stage=SyncStage.done.value,
                state=SyncState.succeeded.value,
                finished_at=datetime.now(UTC),
            )
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
