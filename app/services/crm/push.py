"""Push mirror rows the CRM hasn't seen into GoCardless_Customers / GoCardless_Payments.

Batches (see `batches`) are upserted by the GoCardless id, several at once up to the
org's concurrency cap. A row is marked synced only if it did not change while its upsert was
in flight; a row the CRM refuses is kept with the CRM's reason; a CRM outage leaves rows
pending with a growing retry delay, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import uuid
from asyncio import Future
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoError
from app.adapters.zoho.models import FailedRecord, UpsertOutcome
from app.adapters.zoho.names import CUSTOMERS, ID_FIELDS, PAYMENTS
from app.db import uninterrupted
from app.log import get_logger
from app.models import CrmState, GcCustomer, GcMandate, GcPayment, Lease
from app.runtime import Runtime
from app.services.crm.batches import (
    BATCH,
    Batch,
    Ready,
    customer_batch,
    customer_record,
    payment_batch,
    payment_record,
    ready_payments,
)
from app.services.leases import HeldLease
from app.services.mirror import customer_links, release_payments_of_customers

log = get_logger("app.services.crm.push")

MAX_RETRY_DELAY = timedelta(minutes=10)
# Batches in flight per Zoho slot: one on the wire, one reading or recording.
IN_FLIGHT_PER_SLOT = 2

# The next batch after a keyset position (None: from the start); None when there is none.
ReadBatch = Callable[[str | None], Awaitable[Batch | None]]
TakeReady = Callable[[list[Ready]], Awaitable[None]]


@dataclass
class PushTally:
    upserts: int = 0
    synced: int = 0
    rejected: int = 0
    deferred: int = 0

    def add(self, other: PushTally) -> None:
        self.upserts += other.upserts
        self.synced += other.synced
        self.rejected += other.rejected
        self.deferred += other.deferred


async def push_customers(
    runtime: Runtime,
    crm: ZohoCRM,
    installation_id: uuid.UUID,
    *,
    max_batches: int,
    lease: HeldLease | None = None,
    full_batches_only: bool = False,
    on_released: TakeReady | None = None,
    halt: asyncio.Event | None = None,
) -> PushTally:
    """Push pending customers; `on_released` takes the payments each batch's outcome lets
    go (held for their customer by Sync Now), instead of their being read back later."""
    return await _push(
        runtime,
        crm,
        GcCustomer,
        CUSTOMERS,
        installation_id,
        partial(customer_batch, runtime, installation_id),
        _Limits(max_batches, full_batches_only, halt),
        lease,
        on_released,
    )


async def push_payments(
    runtime: Runtime,
    crm: ZohoCRM,
    installation_id: uuid.UUID,
    *,
    max_batches: int,
    lease: HeldLease | None = None,
    full_batches_only: bool = False,
    read: ReadBatch | None = None,
) -> PushTally:
    """Push pending payments, read from the mirror in batches, or from `read`."""
    return await _push(
        runtime,
        crm,
        GcPayment,
        PAYMENTS,
        installation_id,
        read or partial(payment_batch, runtime, installation_id),
        _Limits(max_batches, full_batches_only),
        lease,
    )


@dataclass(frozen=True)
class _Limits:
    max_batches: int
    # While rows are still arriving (Sync Now's listing), a short batch waits for more, so
    # each module's partial batch goes out once, at the end: the fewest upserts possible.
    full_batches_only: bool
    # Once set, no batch is read or sent any more; those in flight finish and are recorded.
    halt: asyncio.Event | None = None

    def halted(self) -> bool:
        return self.halt is not None and self.halt.is_set()


async def _push(
    runtime: Runtime,
    crm: ZohoCRM,
    table: Any,
    module: str,
    installation_id: uuid.UUID,
    read: ReadBatch,
    limits: _Limits,
    lease: HeldLease | None,
    on_released: TakeReady | None = None,
) -> PushTally:
    """Read batches one after another, with up to twice the concurrency cap in flight.

    The org limiter inside `crm` is the real cap (shared with every other CRM call of the
    org). A batch holds its slot only while its call is on the wire, not while it records
    its outcome: with only as many batches as slots, slots sat idle while batches recorded,
    and Sync Now's upserts trailed its listing by seconds.
    """
    tally = PushTally()
    running: set[asyncio.Task[PushTally]] = set()
    after: str | None = None
    recorder = _Recorder(runtime, table, installation_id, lease=lease, on_released=on_released)
    try:
        for _ in range(limits.max_batches):
            # A failed batch means the CRM is unwell: stop feeding it, retry later.
            if tally.deferred or limits.halted():
                break
            batch = await read(after)
            if batch is None or limits.halted():
                break
            if limits.full_batches_only and len(batch.keys) < BATCH:
                break
            after = batch.last_id
            running.add(
                asyncio.create_task(
                    _upsert(
                        runtime,
                        crm,
                        table,
                        module,
                        installation_id,
                        batch.records,
                        batch.keys,
                        lease=lease,
                        recorder=recorder,
                    )
                )
            )
            if len(running) >= IN_FLIGHT_PER_SLOT * runtime.settings.zoho_concurrency:
                await _collect_one(running, tally)
        while running:
            await _collect_one(running, tally)
    finally:
        # Only after a failure: the rows of cancelled batches stay pending and go again.
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await recorder.settle()
    return tally


async def _collect_one(running: set[asyncio.Task[PushTally]], tally: PushTally) -> None:
    done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        running.discard(task)
        tally.add(task.result())


async def _upsert(
    runtime: Runtime,
    crm: ZohoCRM,
    table: Any,
    module: str,
    installation_id: uuid.UUID,
    records: Sequence[dict[str, Any]],
    keys: Sequence[tuple[str, int]],
    *,
    session: AsyncSession | None = None,
    lease: HeldLease | None = None,
    recorder: _Recorder | None = None,
) -> PushTally:
    """Upsert one batch; record each row's outcome in `session`, or with `recorder` (on its
    own, with the outcomes of the batches that finish meanwhile)."""
    tally = PushTally(upserts=1)
    calls = runtime.metrics.provider_calls
    try:
        outcome: UpsertOutcome = await crm.upsert_records(module, records, [ID_FIELDS[module]])
    except ZohoError as exc:
        calls.labels("zoho", f"upsert {module}", "error").inc()
        # The whole batch stays pending; retried later with a growing delay.
        await _in_session(
            runtime,
            session,
            lease,
            partial(_defer, table=table, installation_id=installation_id, ids=[k for k, _ in keys]),
        )
        log.warning(
            "crm.upsert.deferred",
            installation_id=str(installation_id),
            module=module,
            records=len(keys),
            code=exc.code,
            transient=exc.transient,
        )
        tally.deferred = len(keys)
        return tally
    calls.labels("zoho", f"upsert {module}", "ok").inc()
    outcome = await _without_deleted_lookups(crm, module, records, outcome)
    synced: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for result in outcome.results:
        record_id, version = keys[result.index]
        if isinstance(result, FailedRecord):
            rejected.append({"b_id": record_id, "b_version": version, "b_value": _reason(result)})
        else:
            synced.append({"b_id": record_id, "b_version": version, "b_value": result.id})
    tally.synced, tally.rejected = len(synced), len(rejected)
    recorder = recorder or _Recorder(runtime, table, installation_id, session=session)
    await recorder.record(synced, rejected)
    if tally.rejected:
        log.warning(
            "crm.upsert.rejected_rows",
            installation_id=str(installation_id),
            module=module,
            rejected=tally.rejected,
        )
    return tally


class _Recorder:
    """Batches' outcomes on their mirror rows, recorded together: the outcomes of batches
    that finish while a statement is on the wire go in the next one.

    Sync Now records 2,500 outcomes: a statement each cost a round trip apiece, and at each
    the database's wake-up took our process's core (sampled, the writer spent more time in
    that one socket write than in encoding its upserts). A customer's outcome also lets go
    the payments held for it, which `on_released` takes.
    """

    def __init__(
        self,
        runtime: Runtime,
        table: Any,
        installation_id: uuid.UUID,
        *,
        session: AsyncSession | None = None,
        lease: HeldLease | None = None,
        on_released: TakeReady | None = None,
    ) -> None:
        self._runtime = runtime
        self._table = table
        self._installation_id = installation_id
        self._session = session
        self._lease = lease
        self._on_released = on_released
        self._queued: list[tuple[list[dict[str, Any]], list[dict[str, Any]], Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, synced: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> None:
        """Returns once these outcomes are recorded (and what they released was taken)."""
        if self._session is not None:
            # The caller's transaction: recorded in it, in order.
            await self._flush(synced, rejected)
            return
        done: Future[None] = asyncio.get_running_loop().create_future()
        # A caller cancelled meanwhile no longer awaits it: its outcome is retrieved anyway.
        done.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queued.append((synced, rejected, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_queued())
        await asyncio.shield(done)

    async def settle(self) -> None:
        """Wait for what is being recorded: batches cancelled after their upsert still have
        their outcome written, before the push returns."""
        if self._flushing is not None:
            await asyncio.wait([self._flushing])

    async def _flush_queued(self) -> None:
        while self._queued:
            group, self._queued = self._queued, []
            try:
                await self._flush(
                    [o for synced, _, _ in group for o in synced],
                    [o for _, rejected, _ in group for o in rejected],
                )
            except Exception as exc:
                for *_, done in group:
                    done.set_exception(exc)
            except BaseException:
                for *_, done in group:
                    done.cancel()
                raise
            else:
                for *_, done in group:
                    done.set_result(None)

    async def _flush(self, synced: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> None:
        table, installation_id = self._table, self._installation_id
        released: list[Ready] = []

        async def record(active: AsyncSession, guard: HeldLease | None) -> None:
            set_based = active.get_bind().dialect.name == "postgresql"
            recorders = _recorders(table.__table__, set_based=set_based, guarded=guard is not None)
            lease_params = {"b_lease": guard.name, "b_owner": guard.owner} if guard else {}
            for statement, outcomes in ((recorders.synced, synced), (recorders.rejected, rejected)):
                if not outcomes:
                    continue
                if set_based:
                    # One statement over the whole batch: an executemany runs the executor
                    # once per row, which cost more database CPU than the update itself.
                    result = await active.execute(
                        statement,
                        {
                            "b_installation": installation_id,
                            "b_ids": [o["b_id"] for o in outcomes],
                            "b_versions": [o["b_version"] for o in outcomes],
                            "b_values": [o["b_value"] for o in outcomes],
                            **lease_params,
                        },
                    )
                    if guard is not None and not cast(CursorResult[Any], result).rowcount:
                        raise guard.lost()
                else:
                    await active.execute(
                        statement, [{**o, "b_installation": installation_id} for o in outcomes]
                    )
            if table is GcCustomer:
                record_ids: dict[str, str | None] = {o["b_id"]: o["b_value"] for o in synced}
                record_ids.update({o["b_id"]: None for o in rejected})
                due = await release_payments_of_customers(active, installation_id, record_ids)
                if self._on_released is not None:
                    released.extend(await ready_payments(active, installation_id, due))

        await _record(self._runtime, self._session, self._lease, record)
        if released and self._on_released is not None:
            await self._on_released(released)


@dataclass(frozen=True)
class _Recorders:
    """The two statements that record a batch's outcome on its mirror rows."""

    synced: Update
    rejected: Update


@cache
def _recorders(rows: Table, *, set_based: bool, guarded: bool = False) -> _Recorders:
    """Statements built once per table: with `set_based` (PostgreSQL) each takes the whole
    batch as arrays (`unnest`), otherwise one row per parameter set (SQLite, the demo).

    `guarded` statements write only while the lease `b_lease` is held by `b_owner`: a
    process that lost it (its owner connection broke, another worker took the job over)
    updates no row and stops. The check needs no lock: the outcome of an upsert that
    happened is true whoever holds the lease, and the version columns keep it from
    overwriting a newer one.
    """
    if set_based:
        outcome = (
            func.unnest(
                bindparam("b_ids", type_=ARRAY(String)),
                bindparam("b_versions", type_=ARRAY(Integer)),
                bindparam("b_values", type_=ARRAY(Text)),
            )
            .table_valued(column("id", String), column("version", Integer), column("value", Text))
            .render_derived(name="outcome")
        )
        row_id, version, value = outcome.c.id, outcome.c.version, outcome.c.value
    else:
        row_id, version, value = bindparam("b_id"), bindparam("b_version"), bindparam("b_value")
    unchanged = rows.c.crm_version == version
    # A newer version's upsert finished first: this older one may have overwritten it in the
    # CRM, so the row goes again rather than count as synced.
    late = rows.c.crm_synced_version > version
    # GREATEST, written so SQLite (the demo's database) runs it too.
    newest = case((late, rows.c.crm_synced_version), else_=version)
    where = and_(rows.c.installation_id == bindparam("b_installation"), rows.c.id == row_id)
    if guarded:
        where = and_(
            where,
            exists().where(Lease.name == bindparam("b_lease"), Lease.owner == bindparam("b_owner")),
        )
    return _Recorders(
        synced=update(rows)
        .where(where)
        .values(
            crm_record_id=value,
            crm_state=case(
                (unchanged, CrmState.synced.value),
                (late, CrmState.pending.value),
                else_=rows.c.crm_state,
            ),
            crm_error=None,
            crm_attempts=0,
            crm_retry_at=None,
            crm_synced_version=newest,
        ),
        rejected=update(rows)
        .where(where)
        .values(
            crm_state=case(
                (unchanged, CrmState.rejected.value),
                (late, CrmState.pending.value),
                else_=rows.c.crm_state,
            ),
            crm_error=value,
            crm_synced_version=newest,
        ),
    )


# Lookups to records a CRM user may delete (the Invoice, the Contact, the customer record).
DELETABLE_LOOKUPS = frozenset({"Invoice", "Contact", "Customer"})


async def _without_deleted_lookups(
    crm: ZohoCRM, module: str, records: Sequence[dict[str, Any]], outcome: UpsertOutcome
) -> UpsertOutcome:
    """Write again, without the lookup, the records the CRM refused for a deleted one.

    A deleted Invoice or Contact must not keep its payment or customer out of the CRM
    forever: the record is still true without the link.
    """
    retry = [
        (result.index, result.field)
        for result in outcome.results
        if isinstance(result, FailedRecord)
        and result.code == "INVALID_DATA"
        and result.field in DELETABLE_LOOKUPS
        and result.field in records[result.index]
    ]
    if not retry:
        return outcome
    # Null, not left out: an update would otherwise keep pointing at the deleted record.
    stripped = [{**records[index], lookup: None} for index, lookup in retry]
    try:
        second = await crm.upsert_records(module, stripped, [ID_FIELDS[module]])
    except ZohoError:
        return outcome  # rejected for now; the CRM's own reason is kept
    log.info("crm.upsert.without_deleted_lookup", module=module, records=len(retry))
    results = list(outcome.results)
    for result in second.results:
        original = retry[result.index][0]
        results[original] = result.model_copy(update={"index": original})
    return outcome.model_copy(update={"results": results})


async def _in_session(
    runtime: Runtime,
    session: AsyncSession | None,
    lease: HeldLease | None,
    work: Callable[[AsyncSession], Awaitable[None]],
) -> None:
    """`work` in the caller's session, or in a transaction of its own that a cancellation
    (a sync stopping, a worker shutting down) does not cut short."""
    if session is not None:
        await work(session)
        return

    async def own() -> None:
        async with runtime.sessionmaker() as active, active.begin():
            if lease is not None:
                await lease.keep(active)
            await work(active)

    await uninterrupted(own())


async def _record(
    runtime: Runtime,
    session: AsyncSession | None,
    lease: HeldLease | None,
    work: Callable[[AsyncSession, HeldLease | None], Awaitable[None]],
) -> None:
    """A batch's outcome: in the caller's session, or on its own.

    On its own on PostgreSQL, each statement commits by itself (autocommit) and checks the
    lease within it: one round trip a statement where a transaction took four (BEGIN, the
    lease check, the update, COMMIT), and Sync Now records 2,500 outcomes. Each statement
    is version-guarded and repeatable, so none needs the others' transaction.
    """
    if session is not None:
        await work(session, None)
        return
    if runtime.engine.dialect.name != "postgresql":
        await _in_session(runtime, None, lease, lambda active: work(active, None))
        return
    if lease is not None:
        lease.check_not_stopping()

    async def alone() -> None:
        async with runtime.reader() as active:
            await work(active, lease)

    await uninterrupted(alone())


async def push_now(
    session: AsyncSession,
    runtime: Runtime,
    crm: ZohoCRM,
    installation_id: uuid.UUID,
    payment_ids: Sequence[str],
) -> None:
    """Write these payments (and their customers, if the CRM lacks them) to the CRM now.

    Runs in the caller's transaction so it sees rows not yet committed. A failure leaves the
    rows pending for the worker: the user's action has already succeeded at GoCardless.
    """
    # The caller may hold these rows from before its own upsert into the mirror: reload.
    payments = (
        await session.scalars(
            select(GcPayment)
            .where(GcPayment.installation_id == installation_id, GcPayment.id.in_(payment_ids))
            .execution_options(populate_existing=True)
        )
    ).all()
    mandate_ids = {p.mandate_id for p in payments if p.mandate_id}
    customers = (
        await session.scalars(
            select(GcCustomer)
            .where(
                GcCustomer.installation_id == installation_id,
                GcCustomer.crm_record_id.is_(None),
                GcCustomer.id.in_(
                    select(GcMandate.customer_id).where(
                        GcMandate.installation_id == installation_id,
                        GcMandate.id.in_(mandate_ids),
                    )
                ),
            )
            .execution_options(populate_existing=True)
        )
    ).all()
    if customers:
        await _upsert(
            runtime,
            crm,
            GcCustomer,
            CUSTOMERS,
            installation_id,
            [customer_record(c) for c in customers],
            [(c.id, c.crm_version) for c in customers],
            session=session,
        )
    links = await customer_links(session, installation_id, mandate_ids)
    await _upsert(
        runtime,
        crm,
        GcPayment,
        PAYMENTS,
        installation_id,
        [
            payment_record(p, link.record_id if (link := links.get(p.mandate_id or "")) else None)
            for p in payments
        ],
        [(p.id, p.crm_version) for p in payments],
        session=session,
    )


async def _defer(
    session: AsyncSession, *, table: Any, installation_id: uuid.UUID, ids: Sequence[str]
) -> None:
    now = datetime.now(UTC)
    attempts = (
        await session.execute(
            select(table.id, table.crm_attempts).where(
                table.installation_id == installation_id, table.id.in_(ids)
            )
        )
    ).all()
    if not attempts:
        return
    rows = table.__table__
    await session.execute(
        update(rows)
        .where(rows.c.installation_id == installation_id, rows.c.id == bindparam("b_id"))
        .values(crm_attempts=bindparam("b_attempts"), crm_retry_at=bindparam("b_retry_at")),
        [
            {
                "b_id": record_id,
                "b_attempts": tried + 1,
                "b_retry_at": now
                + min(timedelta(seconds=5 * 2 ** min(tried, 10)), MAX_RETRY_DELAY),
            }
            for record_id, tried in attempts
        ],
    )


def _reason(result: FailedRecord) -> str:
    field = f" ({result.field})" if result.field else ""
    return f"{result.code}: {result.message}{field}"[:2000]


async def crm_counts(session: AsyncSession, installation_id: uuid.UUID) -> dict[str, int]:
    """Synced/rejected/pending per module, derived from the mirror rather than kept twice."""
    counts: dict[str, int] = {}
    for name, table in (("customers", GcCustomer), ("payments", GcPayment)):
        rows = (
            await session.execute(
                select(table.crm_state, func.count())
                .where(table.installation_id == installation_id)
                .group_by(table.crm_state)
            )
        ).all()
        by_state = {state: count for state, count in rows}
        for state in CrmState:
            counts[f"{name}_{state.value}"] = by_state.get(state.value, 0)
    return counts
