"""Per-installation health an operator can read: is each merchant's data real time?

Everything comes from the database, so one process answers for all of them whatever the
deployment: the inbox (backlog, parked events, lag = age of the oldest pending event), the
CRM queue, and what is left of the merchant's provider budgets (GoCardless requests in the
shared bucket, Zoho slots not held by any process).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import String, cast, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.pacing import BucketShape
from app.models import (
    CrmState,
    EventStatus,
    GcCustomer,
    GcPayment,
    GoCardlessConnection,
    InboxEvent,
    Installation,
    InstallationStatus,
    RateBudget,
    ZohoConnection,
)
from app.services.budgets import lock_key

# An installation whose oldest pending event is older than this is not real time any more.
LAGGING_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class InstallationHealth:
    installation_id: uuid.UUID
    zoho_org_id: str
    pending_events: int
    parked_events: int
    lag_seconds: float
    crm_backlog: int
    gocardless_requests_left: int | None
    zoho_slots_left: int | None

    @property
    def status(self) -> Literal["ok", "lagging", "parked_events"]:
        if self.lag_seconds > LAGGING_AFTER_SECONDS:
            return "lagging"
        return "parked_events" if self.parked_events else "ok"


async def installations_health(
    session: AsyncSession,
    *,
    now: datetime,
    gocardless_shape: BucketShape,
    zoho_concurrency: int,
) -> list[InstallationHealth]:
    inbox = (
        select(
            InboxEvent.installation_id,
            func.count().filter(InboxEvent.status == EventStatus.pending.value).label("pending"),
            func.count().filter(InboxEvent.status == EventStatus.failed.value).label("parked"),
            func.min(InboxEvent.created_at)
            .filter(InboxEvent.status == EventStatus.pending.value)
            .label("oldest"),
        )
        .where(InboxEvent.status.in_([EventStatus.pending.value, EventStatus.failed.value]))
        .group_by(InboxEvent.installation_id)
        .subquery()
    )
    crm = (
        select(GcCustomer.installation_id, func.count().label("rows"))
        .where(GcCustomer.crm_state == CrmState.pending.value)
        .group_by(GcCustomer.installation_id)
        .union_all(
            select(GcPayment.installation_id, func.count())
            .where(GcPayment.crm_state == CrmState.pending.value)
            .group_by(GcPayment.installation_id)
        )
        .subquery()
    )
    crm_backlog = (
        select(crm.c.installation_id, func.sum(crm.c.rows).label("rows"))
        .group_by(crm.c.installation_id)
        .subquery()
    )
    elapsed = func.extract("epoch", func.now() - RateBudget.refilled_at)
    tokens_now = func.least(
        gocardless_shape.capacity,
        RateBudget.tokens + elapsed * gocardless_shape.refill_per_second,
    )
    bucket_key = literal("gocardless:") + GoCardlessConnection.organisation_id
    rows = await session.execute(
        select(
            Installation.id,
            Installation.zoho_org_id,
            func.coalesce(inbox.c.pending, 0),
            func.coalesce(inbox.c.parked, 0),
            inbox.c.oldest,
            func.coalesce(crm_backlog.c.rows, 0),
            GoCardlessConnection.organisation_id,
            func.coalesce(tokens_now, gocardless_shape.capacity),
            ZohoConnection.org_id,
        )
        .outerjoin(inbox, inbox.c.installation_id == Installation.id)
        .outerjoin(crm_backlog, crm_backlog.c.installation_id == Installation.id)
        .outerjoin(GoCardlessConnection, GoCardlessConnection.installation_id == Installation.id)
        .outerjoin(RateBudget, RateBudget.key == cast(bucket_key, String))
        .outerjoin(ZohoConnection, ZohoConnection.installation_id == Installation.id)
        .where(Installation.status != InstallationStatus.uninstalled.value)
        .order_by(Installation.created_at)
    )
    fetched = rows.all()
    held = await _zoho_slots_held(session, [row[8] for row in fetched if row[8]])
    report = []
    for (
        installation_id,
        zoho_org_id,
        pending,
        parked,
        oldest,
        backlog,
        organisation_id,
        tokens,
        zoho_org,
    ) in fetched:
        report.append(
            InstallationHealth(
                installation_id=installation_id,
                zoho_org_id=zoho_org_id,
                pending_events=int(pending),
                parked_events=int(parked),
                lag_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
                crm_backlog=int(backlog),
                gocardless_requests_left=int(tokens) if organisation_id else None,
                zoho_slots_left=(
                    max(zoho_concurrency - held.get(zoho_org, 0), 0) if zoho_org else None
                ),
            )
        )
    return report


async def _zoho_slots_held(session: AsyncSession, org_ids: list[str]) -> dict[str, int]:
    """Zoho calls in flight now, from every process: the advisory locks on each org's slots.
    (The demo's SQLite keeps the slots in its one process and reports none.)"""
    if not org_ids or session.get_bind().dialect.name != "postgresql":
        return {}
    # pg_locks shows the first key as an unsigned oid.
    keys = {lock_key("zoho-calls", org_id) % 2**32: org_id for org_id in set(org_ids)}
    rows = await session.execute(
        text(
            "SELECT classid::bigint, count(*) FROM pg_locks "
            "WHERE locktype = 'advisory' AND objsubid = 2 AND classid::bigint = ANY(:keys) "
            "GROUP BY 1"
        ),
        {"keys": list(keys)},
    )
    return {keys[int(key)]: int(count) for key, count in rows.all()}
