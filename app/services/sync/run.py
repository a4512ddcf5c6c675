"""Sync Now: one durable, resumable copy of every GoCardless customer and payment into the CRM.

Customers (matched to Contacts as they are stored), mandates and payments are listed at
once, in cursor chains (`chains`), while the CRM upserts run alongside; what is left
then goes to the CRM; the events of the meantime are replayed. Progress is stored as it is
made (each chain's cursor with the page it belongs to, in one transaction; the CRM state on
each mirror row), so a crash resumes every chain from its last finished page. A lease keeps
one worker on one installation's sync; the run's row (one per installation) keeps it once.
"""

from __future__ import annotations

import asyncio
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
    SyncChain,
    SyncRun,
    SyncStage,
    SyncState,
)
from app.runtime import Runtime
from app.schemas.installations import SyncStatus
from app.services import leases
from app.services.authorization import inactive_reason
from app.services.crm.push import crm_counts, push_customers, push_payments
from app.services.installations import (
    gocardless_active,
    gocardless_usable,
    load_connections,
    require_gocardless,
    zoho_usable,
)
from app.services.leases import HeldLease, LeaseLost, Stopping
from app.services.mirror import release_held_payments
from app.services.providers import gocardless_client, zoho_crm
from app.services.sync.chains import Chain, load_chains, plan_split, split_chain
from app.services.sync.feed import PaymentFeed
from app.services.sync.listing import (
    Contacts,
    PageCounter,
    analyze_mirror,
    list_chain,
    note_event_position,
    replay_events,
)
from app.services.sync.progress import describe_sync

log = get_logger("app.services.sync.run")

# Chains listed at once: enough to keep GoCardless's rate limit busy at 100 ms a call.
PARALLEL_CHAINS = 4


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
    run = await session.get(SyncRun, installation.id, with_for_update=True, populate_existing=True)
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
    chains = []
    if run is not None:
        rows = await session.scalars(
            select(SyncChain)
            .where(SyncChain.installation_id == installation.id)
            .order_by(SyncChain.name)
        )
        chains = [Chain.from_row(row) for row in rows]
    return describe_sync(run, chains, counts, can_start=can_start, now=datetime.now(UTC))


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
    # A backfill copies history: CRM workflows are for changes as they happen, so none run
    # (`trigger: []`); real-time writes after it keep ZOHO_CRM_TRIGGERS.
    crm = zoho_crm(runtime, zoho, triggers=(), priority="background")
    events_since = run.events_since or await note_event_position(runtime, gc, installation_id)
    stage = SyncStage(run.stage)
    if stage is not SyncStage.listing:
        await _after_listing(runtime, gc, crm, installation_id, lease, stage, events_since)
        return
    await _list_while_pushing(runtime, gc, crm, installation, lease)
    # The statistics of the freshly filled mirror are for the queries of later days: the
    # CRM stages read by key and need none, so they do not wait for it (0.4 s at 250k rows).
    analyzing = asyncio.create_task(analyze_mirror(runtime))
    try:
        stage = await _listing_finished(runtime, installation_id)
        await _after_listing(runtime, gc, crm, installation_id, lease, stage, events_since)
    except BaseException:
        analyzing.cancel()
        await asyncio.gather(analyzing, return_exceptions=True)
        raise
    await analyzing


async def _after_listing(
    runtime: Runtime,
    gc: GoCardlessClient,
    crm: ZohoCRM,
    installation_id: uuid.UUID,
    lease: HeldLease,
    stage: SyncStage,
    events_since: datetime,
) -> None:
    """What is left once every chain is listed: the CRM upserts, then the replay."""
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
) -> None:
    """List every chain at once while the CRM upserts run alongside.

    The chains are independent (customers, mandates, payment windows): listing them at once
    makes the listing take about its longest chain, or GoCardless's rate limit, rather than
    their sum. When a chain ends, the payments chain with the most left is split to fill its
    slot (see `chains`). Only full batches go to the CRM meanwhile, each module's
    partial batch waits for the CRM stages, and a payment waits for its customer's record
    (`crm_hold`), so every record is upserted once, with its lookups.
    """
    chains = await load_chains(runtime, installation.id)
    customers_left = any(c.resource == "customers" and not c.done for c in chains)
    contacts = await Contacts.load(crm) if customers_left else None
    counter = PageCounter()
    page_stored = asyncio.Event()
    listing_done = False
    # Payments go to the CRM as they are stored or let go (see `feed`); customers are
    # read back in batches (a single-table read), as their outcomes release payments.
    feed = PaymentFeed()
    halt = asyncio.Event()

    async def push_customers_alongside() -> None:
        while not listing_done:
            page_stored.clear()
            await push_customers(
                runtime,
                crm,
                installation.id,
                max_batches=10**9,
                lease=lease,
                full_batches_only=True,
                on_released=feed.put,
                halt=halt,
            )
            await page_stored.wait()

    async def push_payments_alongside() -> None:
        try:
            await push_payments(
                runtime,
                crm,
                installation.id,
                max_batches=10**9,
                lease=lease,
                full_batches_only=True,
                read=feed.read,
            )
        finally:
            # A CRM that failed a batch gets no more until the CRM stages: what the listing
            # still brings stays pending in the mirror, and the listing never waits for it.
            await feed.stop()

    def page_done() -> None:
        page_stored.set()
        for pusher in pushers:
            if pusher.done():
                pusher.result()  # what stopped a pusher stops the listing too

    listers: dict[asyncio.Task[None], Chain] = {}

    def start(chain: Chain) -> None:
        task = asyncio.create_task(
            list_chain(
                runtime,
                gc,
                installation,
                lease,
                chain,
                contacts=contacts,
                counter=counter,
                on_due=feed.put,
                on_page=page_done,
            )
        )
        listers[task] = chain

    async def fill_slots() -> None:
        while len(listers) < PARALLEL_CHAINS:
            split = plan_split(chains, runtime.settings.sync_payment_windows)
            if split is None:
                return
            name = f"payments-{sum(c.resource == 'payments' for c in chains) + 1}"
            new = await split_chain(runtime, installation.id, split, name)
            if new is None:
                return
            log.info(
                "sync.payments_split",
                installation_id=str(installation.id),
                chain=split.chain.name,
                new_chain=name,
                at=new.created_before.isoformat() if new.created_before else None,
            )
            chains.append(new)
            start(new)

    customers_pusher = asyncio.create_task(push_customers_alongside())
    payments_pusher = asyncio.create_task(push_payments_alongside())
    pushers = (customers_pusher, payments_pusher)
    try:
        for chain in chains:
            if not chain.done:
                start(chain)
        await fill_slots()
        while listers:
            finished, _ = await asyncio.wait(listers, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                del listers[task]
                task.result()
            await fill_slots()
        listing_done = True
        page_stored.set()
        # The customers' last outcomes still let payments go into the feed.
        await customers_pusher
        await feed.close()
        # Rows the pusher has in flight are not read again until it has recorded them.
        await payments_pusher
    except BaseException as exc:
        for task in listers:
            task.cancel()
        await asyncio.gather(*listers, return_exceptions=True)
        if isinstance(exc, Exception) and not isinstance(exc, LeaseLost):
            # The listing failed (an outage pauses the sync, a refusal fails it): the CRM
            # upserts on the wire finish and are recorded, or they would all go again when
            # the sync resumes. The lease lost, or the task cancelled, they stop at once.
            # The customers' writer reads the mirror and stops at the halt; the payments'
            # reads the feed, which once stopped gives it no more batches.
            halt.set()
            listing_done = True
            page_stored.set()
            await feed.stop()
        else:
            for task in pushers:
                task.cancel()
        await asyncio.gather(*pushers, return_exceptions=True)
        raise


async def _listing_finished(runtime: Runtime, installation_id: uuid.UUID) -> SyncStage:
    """Every chain is at its end: payments still held (their customer or mandate was not
    listed, or the CRM refused the customer) go as they are, after the customers."""
    async with runtime.sessionmaker() as session, session.begin():
        await release_held_payments(session, installation_id)
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(stage=SyncStage.crm_customers.value, listing_finished_at=datetime.now(UTC))
        )
    return SyncStage.crm_customers


async def _finish(
    runtime: Runtime, gc: GoCardlessClient, installation_id: uuid.UUID, since: datetime
) -> None:
    newest = await replay_events(runtime, gc, installation_id, since)
    async with runtime.sessionmaker() as session, session.begin():
        if await session.get(EventCursor, installation_id) is None:
            session.add(EventCursor(installation_id=installation_id, seen_until=newest))
        # Frozen before the replayed events are processed: what they bring is counted apart.
        counts = await crm_counts(session, installation_id)
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(
                stage=SyncStage.done.value,
                state=SyncState.succeeded.value,
                finished_at=datetime.now(UTC),
                customers_synced=counts["customers_synced"],
                customers_rejected=counts["customers_rejected"],
                payments_synced=counts["payments_synced"],
                payments_rejected=counts["payments_rejected"],
            )
        )
    log.info("sync.succeeded", installation_id=str(installation_id))


async def _set_stage(runtime: Runtime, installation_id: uuid.UUID, stage: SyncStage) -> SyncStage:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(SyncRun)
            .where(SyncRun.installation_id == installation_id)
            .values(stage=stage.value)
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
