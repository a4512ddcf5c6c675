"""What goes to the CRM: mirror rows as GoCardless_Customers / GoCardless_Payments records,
read in batches of up to 100 (Zoho's write limit).

Batches are read by primary key after the previous one (a keyset): no row is in two batches
of one pass, and each read is one short index walk however many rows are pending. Every
read is single-table, so no join can be misplanned on statistics a bulk load made stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, Protocol, cast

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import one_of
from app.models import CrmState, GcCustomer, GcPayment
from app.money import from_minor_units
from app.runtime import Runtime
from app.services.mirror import META_INVOICE_NUMBER, Due, customer_links

BATCH = 100
NAME_LIMIT = 120


@dataclass(frozen=True)
class Batch:
    records: list[dict[str, Any]]
    # (GoCardless id, crm_version read) per record, in the same order.
    keys: list[tuple[str, int]]
    # The keyset position after this batch: the next read starts past it.
    last_id: str


# One record ready for the CRM: the record, and its (GoCardless id, crm_version read).
Ready = tuple[dict[str, Any], tuple[str, int]]


def batch_of(ready: Sequence[Ready]) -> Batch:
    return Batch([record for record, _ in ready], [key for _, key in ready], ready[-1][1][0])


class CustomerFields(Protocol):
    """What a customer record is made of: a mirror row, or just these columns of it."""

    @property
    def id(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def given_name(self) -> str | None: ...
    @property
    def family_name(self) -> str | None: ...
    @property
    def company_name(self) -> str | None: ...
    @property
    def gc_created_at(self) -> datetime | None: ...
    @property
    def contact_id(self) -> str | None: ...
    @property
    def crm_version(self) -> int: ...


class PaymentFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def gc_metadata(self) -> dict[str, Any]: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def charge_date(self) -> date | None: ...
    @property
    def mandate_id(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def invoice_id(self) -> str | None: ...
    @property
    def amount_refunded(self) -> int: ...
    @property
    def failure_reason(self) -> str | None: ...
    @property
    def payout_date(self) -> date | None: ...
    @property
    def crm_version(self) -> int: ...


# Batches read these columns only: loading whole ORM objects cost more than the upsert.
_CUSTOMER_COLUMNS = tuple(
    getattr(GcCustomer, name) for name in CustomerFields.__dict__ if not name.startswith("_")
)
_PAYMENT_COLUMNS = tuple(
    getattr(GcPayment, name) for name in PaymentFields.__dict__ if not name.startswith("_")
)


def customer_record(customer: CustomerFields) -> dict[str, Any]:
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


def payment_name(payment: PaymentFields) -> str:
    """One rule for every scheme: the invoice number of a payment made from a CRM invoice
    (Bacs carries no reference, SEPA carries the number as its reference: both show the
    number), else the payment's reference, else its id."""
    number = (payment.gc_metadata or {}).get(META_INVOICE_NUMBER)
    return (
        (number if isinstance(number, str) and number else None) or payment.reference or payment.id
    )


def payment_record(payment: PaymentFields, customer_record_id: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": payment_name(payment)[:NAME_LIMIT],
        "GoCardless_Payment_ID": payment.id,
        "Amount": from_minor_units(payment.amount, payment.currency),
        "Currency": payment.currency,
        "Status": payment.status,
        "Charge_Date": payment.charge_date,
        "GoCardless_Mandate_ID": payment.mandate_id,
        "Description": payment.description,
        "Failure_Reason": payment.failure_reason,
        "Amount_Refunded": from_minor_units(payment.amount_refunded, payment.currency),
        "Payout_Date": payment.payout_date,
    }
    if customer_record_id:
        record["Customer"] = {"id": customer_record_id}
    if payment.invoice_id:
        record["Invoice"] = {"id": payment.invoice_id}
    return record


def _due(table: Any, installation_id: uuid.UUID, after: str | None) -> Any:
    conditions = [
        table.installation_id == installation_id,
        table.crm_state == CrmState.pending.value,
        or_(table.crm_retry_at.is_(None), table.crm_retry_at <= datetime.now(UTC)),
    ]
    if after is not None:
        conditions.append(table.id > after)
    return and_(*conditions)


async def customer_batch(
    runtime: Runtime, installation_id: uuid.UUID, after: str | None
) -> Batch | None:
    async with runtime.reader() as session:
        rows = cast(
            Sequence[CustomerFields],
            (
                await session.execute(
                    select(*_CUSTOMER_COLUMNS)
                    .where(_due(GcCustomer, installation_id, after))
                    .order_by(GcCustomer.id)
                    .limit(BATCH)
                )
            ).all(),
        )
    if not rows:
        return None
    return Batch(
        [customer_record(c) for c in rows], [(c.id, c.crm_version) for c in rows], rows[-1].id
    )


async def payment_batch(
    runtime: Runtime, installation_id: uuid.UUID, after: str | None
) -> Batch | None:
    """Due payments, skipping those whose customer's own upsert is still to come."""
    picked: list[tuple[PaymentFields, str | None]] = []
    async with runtime.reader() as session:
        while len(picked) < BATCH:
            candidates = cast(
                Sequence[PaymentFields],
                (
                    await session.execute(
                        select(*_PAYMENT_COLUMNS)
                        .where(
                            _due(GcPayment, installation_id, after),
                            GcPayment.crm_hold.is_(False),
                        )
                        .order_by(GcPayment.id)
                        .limit(BATCH - len(picked))
                    )
                ).all(),
            )
            if not candidates:
                break
            after = candidates[-1].id
            links = await customer_links(
                session, installation_id, {p.mandate_id for p in candidates if p.mandate_id}
            )
            for payment in candidates:
                link = links.get(payment.mandate_id or "")
                if link is None or not link.waiting:
                    picked.append((payment, link.record_id if link else None))
    if not picked or after is None:
        return None
    ready = [_ready(p, record_id) for p, record_id in picked]
    return Batch([record for record, _ in ready], [key for _, key in ready], after)


async def ready_payments(
    session: AsyncSession, installation_id: uuid.UUID, due: Due
) -> list[Ready]:
    """The payments a write made due, as records: those still pending and not held (a row
    the write did not change keeps its state), read in the write's own session unless the
    write returned them."""
    if not due.payment_ids:
        return []
    rows: Sequence[PaymentFields]
    if due.written:
        # The write returned the rows as they now stand: nothing to read.
        rows = [cast(PaymentFields, SimpleNamespace(**row)) for row in due.written.values()]
    else:
        rows = cast(
            Sequence[PaymentFields],
            (
                await session.execute(
                    select(*_PAYMENT_COLUMNS).where(
                        _due(GcPayment, installation_id, None),
                        one_of(session, GcPayment.id, due.payment_ids),
                        GcPayment.crm_hold.is_(False),
                    )
                )
            ).all(),
        )
    return [_ready(p, due.record_ids.get(p.mandate_id or "")) for p in rows]


def _ready(payment: PaymentFields, customer_record_id: str | None) -> Ready:
    return payment_record(payment, customer_record_id), (payment.id, payment.crm_version)
