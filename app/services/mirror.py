"""Writes to the mirror tables: newest read wins, CRM-visible changes queue a CRM upsert."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from app.adapters.gocardless.models import Customer, Mandate, Payment, Payout
from app.db import one_of
from app.models import CrmState, GcCustomer, GcMandate, GcPayment
from app.money import UnknownScheme, scheme_currency

# Metadata keys we put on payments and billing requests we create (GoCardless allows 3).
META_INVOICE_ID = "zoho_invoice_id"
META_ORG_ID = "zoho_org_id"
META_INVOICE_NUMBER = "zoho_invoice_number"


@dataclass(frozen=True)
class Due:
    """Payments a write has just made due for the CRM (Sync Now hands them to its CRM
    writer as they are stored, rather than the writer reading them back in batches), and
    each one's customer record id in the CRM, by mandate id (None: not in the CRM)."""

    payment_ids: list[str]
    record_ids: dict[str, str | None]
    # The due rows as they now stand, by id, when the write returned them: nothing to read.
    written: dict[str, dict[str, Any]] = field(default_factory=dict)


NOTHING_DUE = Due([], {})


def _crm_queue(table: Any, fields: Sequence[str], excluded: Any) -> dict[str, Any]:
    """SET clauses that bump crm_version only when a CRM-visible field really changed."""
    changed: ColumnElement[bool] = or_(
        *(getattr(table, f).is_distinct_from(getattr(excluded, f)) for f in fields)
    )
    return {
        "crm_version": case((changed, table.crm_version + 1), else_=table.crm_version),
        "crm_state": case((changed, CrmState.pending.value), else_=table.crm_state),
        "crm_attempts": case((changed, 0), else_=table.crm_attempts),
        "crm_retry_at": case((changed, None), else_=table.crm_retry_at),
    }


_CUSTOMER_FIELDS = ("email", "given_name", "family_name", "company_name", "gc_created_at")
# The CRM-queue columns of a row new to the mirror: never written to the CRM yet.
_NEW_IN_CRM_QUEUE = {
    "crm_state": CrmState.pending.value,
    "crm_version": 1,
    "crm_synced_version": 0,
    "crm_attempts": 0,
}


def _newest_wins(
    model: Any, copied: Sequence[str], queued: Sequence[str]
) -> Callable[[Insert], Insert]:
    """A mirror table's conflict rule: a row read later replaces the `copied` columns, and
    queues a CRM upsert when one of the `queued` fields changed. Made once per table (and
    variant), so the insert built from it is cached (`_unnest_upsert`)."""

    def on_conflict(statement: Insert) -> Insert:
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=[model.installation_id, model.id],
            set_={
                **{f: getattr(excluded, f) for f in copied},
                **_crm_queue(model, queued, excluded),
            },
            where=model.fetched_at <= excluded.fetched_at,
        )

    return on_conflict


_customers_newest_win = _newest_wins(
    GcCustomer,
    (*_CUSTOMER_FIELDS, "email_normalized", "gc_metadata", "fetched_at"),
    _CUSTOMER_FIELDS,
)


async def store_customers(
    session: AsyncSession,
    installation_id: uuid.UUID,
    customers: Sequence[Customer],
    fetched_at: datetime,
) -> None:
    if not customers:
        return
    rows = [
        {
            "id": c.id,
            "email": c.email,
            "email_normalized": c.email.strip().lower() if c.email else None,
            "given_name": c.given_name,
            "family_name": c.family_name,
            "company_name": c.company_name,
            "gc_created_at": c.created_at,
            "gc_metadata": dict(c.metadata),
        }
        for c in _latest(customers)
    ]
    # Mandates already pointing at customers we are about to see for the first time.
    waiting = dict(
        (
            await session.execute(
                select(GcMandate.id, GcMandate.customer_id).where(
                    GcMandate.installation_id == installation_id,
                    one_of(session, GcMandate.customer_id, [r["id"] for r in rows]),
                )
            )
        ).all()
    )
    if waiting:
        known = await _known_ids(session, GcCustomer, installation_id, list(waiting.values()))
        waiting = {m: c for m, c in waiting.items() if c not in known}
    await _upsert_rows(
        session,
        GcCustomer,
        rows,
        _customers_newest_win,
        constants={
            "installation_id": installation_id,
            "fetched_at": fetched_at,
            **_NEW_IN_CRM_QUEUE,
        },
    )
    await _requeue_payments(session, installation_id, list(waiting))


_MANDATE_FIELDS = (
    "customer_id",
    "scheme",
    "currency",
    "status",
    "reference",
    "next_possible_charge_date",
    "customer_bank_account_id",
    "new_mandate_id",
    "gc_created_at",
    "fetched_at",
)


def _mandates_newest_win(statement: Insert) -> Insert:
    excluded = statement.excluded
    # A transferred mandate has a new bank account: its details are read again.
    moved = GcMandate.customer_bank_account_id.is_distinct_from(excluded.customer_bank_account_id)
    return statement.on_conflict_do_update(
        index_elements=[GcMandate.installation_id, GcMandate.id],
        set_={
            **{name: getattr(excluded, name) for name in _MANDATE_FIELDS},
            **{
                name: case((moved, None), else_=getattr(GcMandate, name))
                for name in ("bank_name", "account_number_ending", "account_holder_name")
            },
        },
        where=GcMandate.fetched_at <= excluded.fetched_at,
    )


async def store_mandates(
    session: AsyncSession,
    installation_id: uuid.UUID,
    mandates: Sequence[Mandate],
    fetched_at: datetime,
) -> Due:
    """Store mandates; returns the payments held for them that can go now."""
    if not mandates:
        return NOTHING_DUE
    rows = [
        {
            "id": m.id,
            "customer_id": m.links.customer,
            "scheme": m.scheme,
            "currency": _currency(m.scheme),
            "status": m.status,
            "reference": m.reference,
            "next_possible_charge_date": m.next_possible_charge_date,
            "customer_bank_account_id": m.links.customer_bank_account,
            "new_mandate_id": m.links.new_mandate,
            "gc_created_at": m.created_at,
        }
        for m in _latest(mandates)
    ]
    # Payments already pointing at these mandates: held by Sync Now, or (when the mandate
    # is new to us) sent to the CRM without their Customer lookup.
    pointing = (
        await session.execute(
            select(GcPayment.mandate_id, GcPayment.crm_hold)
            .where(
                GcPayment.installation_id == installation_id,
                one_of(session, GcPayment.mandate_id, [r["id"] for r in rows]),
            )
            .distinct()
        )
    ).all()
    held = {mandate_id for mandate_id, hold in pointing if hold}
    waiting = {mandate_id for mandate_id, hold in pointing if not hold}
    if waiting:
        waiting -= await _known_ids(session, GcMandate, installation_id, list(waiting))

    await _upsert_rows(
        session,
        GcMandate,
        rows,
        _mandates_newest_win,
        constants={"installation_id": installation_id, "fetched_at": fetched_at},
    )
    await _requeue_payments(session, installation_id, [m for m in waiting if m])
    if not held:
        return NOTHING_DUE
    links = await customer_links(session, installation_id, [m for m in held if m])
    linked = {m: link.record_id for m, link in links.items() if not link.waiting}
    if not linked:
        return NOTHING_DUE
    released = await release_held_payments(
        session, installation_id, one_of(session, GcPayment.mandate_id, list(linked))
    )
    return Due(released, linked)


_PAYMENT_FIELDS = (
    "mandate_id",
    "amount",
    "currency",
    "status",
    "charge_date",
    "reference",
    "description",
    "invoice_id",
    "amount_refunded",
)


_PAYMENT_COPIED = (*_PAYMENT_FIELDS, "gc_metadata", "gc_created_at", "fetched_at")
_payments_newest_win = _newest_wins(GcPayment, _PAYMENT_COPIED, _PAYMENT_FIELDS)
# Sync Now's: a stored payment also takes the hold decided for it.
_payments_newest_win_or_hold = _newest_wins(
    GcPayment, (*_PAYMENT_COPIED, "crm_hold"), _PAYMENT_FIELDS
)


async def store_payments(
    session: AsyncSession,
    installation_id: uuid.UUID,
    payments: Sequence[Payment],
    fetched_at: datetime,
    *,
    zoho_org_id: str | None,
    hold_unlinked: bool = False,
) -> Due:
    """Store payments; with `hold_unlinked` (Sync Now), one whose customer is not in the CRM
    yet waits for it (`crm_hold`) instead of going without its Customer lookup, and the
    others are returned as due."""
    if not payments:
        return NOTHING_DUE
    rows = [
        {
            "id": p.id,
            "mandate_id": p.links.mandate,
            "amount": p.amount,
            "currency": p.currency,
            "status": p.status,
            "charge_date": p.charge_date,
            "reference": p.reference,
            "description": p.description,
            "amount_refunded": p.amount_refunded or 0,
            "gc_metadata": dict(p.metadata),
            "invoice_id": invoice_of(p.metadata, zoho_org_id),
            "gc_created_at": p.created_at,
        }
        for p in _latest(payments)
    ]
    constants = {"installation_id": installation_id, "fetched_at": fetched_at, **_NEW_IN_CRM_QUEUE}
    if not hold_unlinked:
        await _upsert_rows(
            session,
            GcPayment,
            rows,
            _payments_newest_win,
            constants={**constants, "crm_hold": False},
        )
        return NOTHING_DUE
    links = await customer_links(
        session, installation_id, {r["mandate_id"] for r in rows if r["mandate_id"]}
    )
    for row in rows:
        link = links.get(row["mandate_id"] or "")
        row["crm_hold"] = bool(row["mandate_id"]) and (link is None or link.waiting)
    # What the CRM's fields need beyond the page: the columns the write leaves alone.
    written = await _upsert_rows(
        session,
        GcPayment,
        rows,
        _payments_newest_win_or_hold,
        constants=constants,
        returning=(
            GcPayment.id,
            GcPayment.crm_state,
            GcPayment.crm_hold,
            GcPayment.crm_version,
            GcPayment.failure_reason,
            GcPayment.payout_date,
        ),
    )
    sent = {row["id"]: row for row in rows}
    due = {
        payment_id: {
            **sent[payment_id],
            "crm_version": version,
            "failure_reason": failure_reason,
            "payout_date": payout_date,
        }
        for payment_id, state, hold, version, failure_reason, payout_date in map(tuple, written)
        if state == CrmState.pending.value and not hold
    }
    return Due(
        list(due),
        {m: link.record_id for m, link in links.items() if not link.waiting},
        due,
    )


def _bump() -> dict[str, Any]:
    """The CRM-queue columns of a changed payment row (see `_crm_queue`)."""
    return {
        "crm_version": GcPayment.crm_version + 1,
        "crm_state": CrmState.pending.value,
        "crm_attempts": 0,
        "crm_retry_at": None,
    }


async def record_failure(
    session: AsyncSession,
    installation_id: uuid.UUID,
    payment_id: str,
    reason: str | None,
    event: tuple[datetime, str],
) -> None:
    """Keep the reason of the payment's latest failure or charge-back: the latest event by
    (time, id), the order `latest_event` picks in, whatever order they are processed in."""
    at, event_id = event
    await session.execute(
        update(GcPayment)
        .where(
            GcPayment.installation_id == installation_id,
            GcPayment.id == payment_id,
            or_(
                GcPayment.failure_reason_at.is_(None),
                GcPayment.failure_reason_at < at,
                and_(GcPayment.failure_reason_at == at, GcPayment.failure_event_id < event_id),
            ),
        )
        .values(
            failure_reason=reason,
            failure_reason_at=at,
            failure_event_id=event_id,
            **{
                key: case(
                    (GcPayment.failure_reason.is_distinct_from(reason), value),
                    else_=getattr(GcPayment, key),
                )
                for key, value in _bump().items()
            },
        )
    )


async def record_payout(
    session: AsyncSession,
    installation_id: uuid.UUID,
    payout: Payout,
    payment_ids: Sequence[str] | None = None,
) -> None:
    """Link payments to their payout (the `paid_out` event names them) and give every
    payment of the payout its arrival date."""
    conditions: list[ColumnElement[bool]] = [GcPayment.installation_id == installation_id]
    if payment_ids is not None:
        conditions.append(GcPayment.id.in_(payment_ids))
    else:
        conditions.append(GcPayment.payout_id == payout.id)
    await session.execute(
        update(GcPayment)
        .where(
            *conditions,
            or_(
                GcPayment.payout_id.is_distinct_from(payout.id),
                GcPayment.payout_date.is_distinct_from(payout.arrival_date),
            ),
        )
        .values(payout_id=payout.id, payout_date=payout.arrival_date, **_bump())
    )


# Rows from which a mirror write goes as one unnest statement (see _upsert_rows).
UNNEST_FROM_ROWS = 20


async def _upsert_rows(
    session: AsyncSession,
    model: type[Any],
    rows: list[dict[str, Any]],
    on_conflict: Callable[[Insert], Insert],
    *,
    constants: Mapping[str, Any],
    returning: Sequence[Any] = (),
) -> list[Row[Any]]:
    """Insert a page of rows (every row with the same keys, plus `constants`, the columns
    alike in every row), `on_conflict` deciding what an existing row keeps; returns
    `returning` of each row written (not of those it kept).

    Through the Core table, never the ORM's bulk insert, which splits a page into a
    statement per pattern of NULL columns. On PostgreSQL the page goes as one array per
    column, unnested into one statement: an executemany runs the executor once per row,
    which cost about as much database CPU as the rows' writes, and its parameters cost
    client CPU per row. The statement is built once per shape and takes the page as
    parameters, the constants as scalars. SQLite (the demo) takes the rows as an
    executemany, and so do a few rows (a payment the widget just created), where an
    unnest statement costs more than it saves.
    """
    table = cast(Table, model.__table__)
    if session.get_bind().dialect.name != "postgresql" or len(rows) < UNNEST_FROM_ROWS:
        statement = on_conflict(insert(table))
        whole = [{**row, **constants} for row in rows]
        if returning:
            return list((await session.execute(statement.returning(*returning), whole)).all())
        await session.execute(statement, whole)
        return []
    names = tuple(rows[0])
    params: dict[str, Any] = {f"page_{name}": [row[name] for row in rows] for name in names}
    params.update({f"one_{name}": value for name, value in constants.items()})
    page = _unnest_upsert(table, names, tuple(constants), on_conflict, tuple(returning))
    if returning:
        return list((await session.execute(page, params)).all())
    await session.execute(page, params)
    return []


@cache
def _unnest_upsert(
    table: Table,
    names: tuple[str, ...],
    constants: tuple[str, ...],
    on_conflict: Callable[[Insert], Insert],
    returning: tuple[Any, ...],
) -> Executable:
    """The insert of one page shape, built once: building it and its cache key cost about a
    millisecond of a page's store."""
    page = (
        func.unnest(*(bindparam(f"page_{name}", type_=ARRAY(table.c[name].type)) for name in names))
        .table_valued(*names)
        .render_derived(name="page")
    )
    values = [
        *(page.c[name] for name in names),
        *(bindparam(f"one_{name}", type_=table.c[name].type) for name in constants),
    ]
    statement = on_conflict(
        insert(table).from_select([*names, *constants], select(*values).select_from(page))
    )
    return statement.returning(*returning) if returning else statement


async def _known_ids(
    session: AsyncSession, table: Any, installation_id: uuid.UUID, ids: Sequence[str | None]
) -> set[str | None]:
    found = await session.scalars(
        select(table.id).where(
            table.installation_id == installation_id, one_of(session, table.id, ids)
        )
    )
    return set(found.all())


async def _requeue_payments(
    session: AsyncSession, installation_id: uuid.UUID, mandate_ids: Sequence[str]
) -> None:
    """Queue these mandates' payments for the CRM again: their Customer lookup has just
    become possible.

    A payment's customer is found through its mandate. When a payment reached the mirror
    before its mandate or customer did (a payer who signed up while Sync Now was listing,
    or events arriving out of order), it went to the CRM without the lookup; once both are
    known it must go again, after the customer's own upsert. The version bump also catches
    a payment whose upsert is in flight right now.

    Payments that Sync Now holds are left alone: they have not gone yet, and go once with
    the lookup when their hold is released.
    """
    if not mandate_ids:
        return
    await session.execute(
        update(GcPayment)
        .where(
            GcPayment.installation_id == installation_id,
            GcPayment.mandate_id.in_(mandate_ids),
            GcPayment.crm_hold.is_(False),
        )
        .values(
            crm_version=GcPayment.crm_version + 1,
            crm_state=CrmState.pending.value,
            crm_attempts=0,
            crm_retry_at=None,
        )
    )


async def release_held_payments(
    session: AsyncSession, installation_id: uuid.UUID, *conditions: ColumnElement[bool]
) -> list[str]:
    """Let held payments (all, or those matching `conditions`) go to the CRM; returns
    their ids."""
    released = await session.scalars(
        update(GcPayment)
        .where(
            GcPayment.installation_id == installation_id,
            GcPayment.crm_hold.is_(True),
            *conditions,
        )
        .values(crm_hold=False)
        .returning(GcPayment.id)
        .execution_options(synchronize_session=False)
    )
    return list(released.all())


async def release_payments_of_customers(
    session: AsyncSession, installation_id: uuid.UUID, record_ids: dict[str, str | None]
) -> Due:
    """These customers' upserts are recorded (`record_ids`: a CRM record, or None for the
    CRM's refusal): their held payments can go, with the lookup when there is a record."""
    mandates = dict(
        (
            await session.execute(
                select(GcMandate.id, GcMandate.customer_id).where(
                    GcMandate.installation_id == installation_id,
                    one_of(session, GcMandate.customer_id, list(record_ids)),
                )
            )
        ).all()
    )
    if not mandates:
        return NOTHING_DUE
    released = await release_held_payments(
        session, installation_id, one_of(session, GcPayment.mandate_id, list(mandates))
    )
    return Due(released, {m: record_ids[c] for m, c in mandates.items() if c is not None})


def invoice_of(metadata: dict[str, str], zoho_org_id: str | None) -> str | None:
    """The Zoho invoice a payment was created for, if we created it for this org."""
    invoice_id = metadata.get(META_INVOICE_ID)
    if not invoice_id or not invoice_id.isdigit():
        return None
    org = metadata.get(META_ORG_ID)
    if org is not None and zoho_org_id is not None and org != zoho_org_id:
        return None
    return invoice_id


def _currency(scheme: str | None) -> str | None:
    if scheme is None:
        return None
    try:
        return scheme_currency(scheme)
    except UnknownScheme:
        return None


def _latest(items: Sequence[Any]) -> list[Any]:
    # One row per id in a multi-row INSERT … ON CONFLICT, or PostgreSQL refuses the statement.
    return list({item.id: item for item in items}.values())


@dataclass(frozen=True)
class CustomerLink:
    record_id: str | None
    # The customer's first upsert is still to come: its payments wait to get the lookup.
    waiting: bool


async def customer_links(
    session: AsyncSession, installation_id: uuid.UUID, mandate_ids: Collection[str]
) -> dict[str, CustomerLink]:
    """Each mandate's customer as the CRM knows it, read by primary key in one query (it runs
    for every CRM batch of payments)."""
    if not mandate_ids:
        return {}
    rows = await session.execute(
        select(GcMandate.id, GcCustomer.crm_record_id, GcCustomer.crm_state)
        .join(
            GcCustomer,
            and_(
                GcCustomer.installation_id == GcMandate.installation_id,
                GcCustomer.id == GcMandate.customer_id,
            ),
        )
        .where(
            GcMandate.installation_id == installation_id,
            one_of(session, GcMandate.id, mandate_ids),
        )
    )
    return {
        mandate_id: CustomerLink(
            record_id, waiting=state == CrmState.pending.value and record_id is None
        )
        for mandate_id, record_id, state in rows.all()
    }
