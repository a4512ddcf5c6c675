"""Push mirror rows the CRM hasn't seen into GoCardless_Customers / GoCardless_Payments.

Batches of 100 (Zoho's write limit) upserted by the GoCardless id. A row is marked synced only
if it did not change while its upsert was in flight; a row the CRM refuses is kept with the
CRM's reason; a CRM outage leaves rows pending with a growing retry delay, so nothing is lost.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoError
from app.adapters.zoho.models import FailedRecord, UpsertOutcome
from app.adapters.zoho.names import CUSTOMERS, ID_FIELDS, PAYMENTS
from app.log import get_logger
from app.models import CrmState, GcCustomer, GcMandate, GcPayment
from app.money import from_minor_units
from app.runtime import Runtime

log = get_logger("app.services.crm_push")

BATCH = 100
NAME_LIMIT = 120
MAX_RETRY_DELAY = timedelta(minutes=10)


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


def customer_record(customer: GcCustomer) -> dict[str, Any]:
    person = " ".join(p for p in (customer.given_name, customer.family_name) if p)
    name = customer.company_name or person or customer.email or customer.id
    record: dict[str, Any] = {
        "Name": name[:NAME_LIMIT],
        "Email": customer.email,
        "Company_Name": customer.company_name,
        "GoCardless_Customer_ID": customer.id,
        "Created_At": customer.gc_created_at,
    }
    if customer.contact_id:
        record["Contact"] = {"id": customer.contact_id}
    return record


def payment_record(payment: GcPayment, customer_record_id: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": (payment.reference or payment.id)[:NAME_LIMIT],
        "GoCardless_Payment_ID": payment.id,
        "Amount": from_minor_units(payment.amount, payment.currency),
        "Currency": payment.currency,
        "Status": payment.status,
        "Charge_Date": payment.charge_date,
        "GoCardless_Mandate_ID": payment.mandate_id,
        "Description": payment.description,
    }
    if customer_record_id:
        record["Customer"] = {"id": customer_record_id}
    if payment.invoice_id:
        record["Invoice"] = {"id": payment.invoice_id}
    return record


def _due(table: Any, installation_id: uuid.UUID, now: datetime) -> Any:
    return and_(
        table.installation_id == installation_id,
        table.crm_state == CrmState.pending.value,
        or_(table.crm_retry_at.is_(None), table.crm_retry_at <= now),
    )


async def push_customers(
    runtime: Runtime, crm: ZohoCRM, installation_id: uuid.UUID, *, max_batches: int
) -> PushTally:
    tally = PushTally()
    for _ in range(max_batches):
        now = datetime.now(UTC)
        async with runtime.sessionmaker() as session:
            batch = list(
                (
                    await session.scalars(
                        select(GcCustomer)
                        .where(_due(GcCustomer, installation_id, now))
                        .order_by(GcCustomer.gc_created_at, GcCustomer.id)
                        .limit(BATCH)
                    )
                ).all()
            )
        if not batch:
            break
        records = [customer_record(c) for c in batch]
        keys = [(c.id, c.crm_version) for c in batch]
        step = await _upsert(runtime, crm, GcCustomer, CUSTOMERS, installation_id, records, keys)
        tally.add(step)
        if step.deferred:
            break
    return tally


async def push_payments(
    runtime: Runtime, crm: ZohoCRM, installation_id: uuid.UUID, *, max_batches: int
) -> PushTally:
    customer = aliased(GcCustomer)
    tally = PushTally()
    for _ in range(max_batches):
        now = datetime.now(UTC)
        async with runtime.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(GcPayment, customer.crm_record_id)
                    .outerjoin(
                        GcMandate,
                        and_(
                            GcMandate.installation_id == GcPayment.installation_id,
                            GcMandate.id == GcPayment.mandate_id,
                        ),
                    )
                    .outerjoin(
                        customer,
                        and_(
                            customer.installation_id == GcPayment.installation_id,
                            customer.id == GcMandate.customer_id,
                        ),
                    )
                    .where(
                        _due(GcPayment, installation_id, now),
                        # Wait for the customer's own upsert so the lookup can be filled in.
                        or_(
                            customer.id.is_(None),
                            customer.crm_state != CrmState.pending.value,
                            customer.crm_record_id.is_not(None),
                        ),
                    )
                    .order_by(GcPayment.gc_created_at, GcPayment.id)
                    .limit(BATCH)
                )
            ).all()
        if not rows:
            break
        records = [payment_record(p, record_id) for p, record_id in rows]
        keys = [(p.id, p.crm_version) for p, _ in rows]
        step = await _upsert(runtime, crm, GcPayment, PAYMENTS, installation_id, records, keys)
        tally.add(step)
        if step.deferred:
            break
    return tally


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
) -> PushTally:
    """Upsert one batch; record each row's outcome in `session` or a transaction of its own."""
    tally = PushTally(upserts=1)
    calls = runtime.metrics.provider_calls
    try:
        outcome: UpsertOutcome = await crm.upsert_records(module, records, [ID_FIELDS[module]])
    except ZohoError as exc:
        calls.labels("zoho", f"upsert {module}", "error").inc()
        # The whole batch stays pending; retried later with a growing delay.
        async with _session(runtime, session) as active:
            await _defer(active, table, installation_id, [k for k, _ in keys])
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
    async with _session(runtime, session) as active:
        for result in outcome.results:
            record_id, version = keys[result.index]
            where = and_(table.installation_id == installation_id, table.id == record_id)
            unchanged = table.crm_version == version
            if isinstance(result, FailedRecord):
                values: dict[str, Any] = {
                    "crm_state": case((unchanged, CrmState.rejected.value), else_=table.crm_state),
                    "crm_error": _reason(result),
                }
                tally.rejected += 1
            else:
                values = {
                    "crm_record_id": result.id,
                    "crm_state": case((unchanged, CrmState.synced.value), else_=table.crm_state),
                    "crm_error": None,
                    "crm_attempts": 0,
                    "crm_retry_at": None,
                }
                tally.synced += 1
            await active.execute(
                update(table).where(where).values(crm_synced_version=version, **values)
            )
    if tally.rejected:
        log.warning(
            "crm.upsert.rejected_rows",
            installation_id=str(installation_id),
            module=module,
            rejected=tally.rejected,
        )
    return tally


@asynccontextmanager
async def _session(runtime: Runtime, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
    if session is not None:
        yield session
        return
    async with runtime.sessionmaker() as own, own.begin():
        yield own


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
    customer = aliased(GcCustomer)
    rows = (
        await session.execute(
            select(GcPayment, customer)
            .outerjoin(
                GcMandate,
                and_(
                    GcMandate.installation_id == GcPayment.installation_id,
                    GcMandate.id == GcPayment.mandate_id,
                ),
            )
            .outerjoin(
                customer,
                and_(
                    customer.installation_id == GcPayment.installation_id,
                    customer.id == GcMandate.customer_id,
                ),
            )
            .where(GcPayment.installation_id == installation_id, GcPayment.id.in_(payment_ids))
            # The mirror was just written with Core statements: don't trust loaded objects.
            .execution_options(populate_existing=True)
        )
    ).all()
    customers = {c.id: c for _, c in rows if c is not None and c.crm_record_id is None}
    if customers:
        await _upsert(
            runtime,
            crm,
            GcCustomer,
            CUSTOMERS,
            installation_id,
            [customer_record(c) for c in customers.values()],
            [(c.id, c.crm_version) for c in customers.values()],
            session=session,
        )
        for c in customers.values():
            await session.refresh(c)
    await _upsert(
        runtime,
        crm,
        GcPayment,
        PAYMENTS,
        installation_id,
        [payment_record(p, c.crm_record_id if c else None) for p, c in rows],
        [(p.id, p.crm_version) for p, _ in rows],
        session=session,
    )


async def _defer(
    session: AsyncSession, table: Any, installation_id: uuid.UUID, ids: Sequence[str]
) -> None:
    now = datetime.now(UTC)
    rows = (
        await session.execute(
            select(table.id, table.crm_attempts).where(
                table.installation_id == installation_id, table.id.in_(ids)
            )
        )
    ).all()
    for record_id, attempts in rows:
        delay = min(timedelta(seconds=5 * 2 ** min(attempts, 10)), MAX_RETRY_DELAY)
        await session.execute(
            update(table)
            .where(table.installation_id == installation_id, table.id == record_id)
            .values(crm_attempts=attempts + 1, crm_retry_at=now + delay)
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
