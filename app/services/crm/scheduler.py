"""After Sync Now, keep pushing mirror changes to the CRM, one lane per installation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import or_, select, union

from app.adapters.zoho.errors import ZohoError
from app.errors import AppError
from app.log import get_logger
from app.models import (
    ConnectionStatus,
    CrmState,
    GcCustomer,
    GcPayment,
    SyncRun,
    SyncState,
    ZohoConnection,
)
from app.runtime import Runtime
from app.services import leases
from app.services.crm.push import PushTally, push_customers, push_payments
from app.services.providers import zoho_crm

log = get_logger("app.services.crm.scheduler")

# Per tick and installation, so one busy org cannot starve the others.
MAX_BATCHES = 20


async def installations_with_changes(runtime: Runtime) -> list[uuid.UUID]:
    now = datetime.now(UTC)
    due = union(
        *(
            select(table.installation_id).where(
                table.crm_state == CrmState.pending.value,
                or_(table.crm_retry_at.is_(None), table.crm_retry_at <= now),
            )
            for table in (GcCustomer, GcPayment)
        )
    ).subquery()
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(SyncRun.installation_id)
            .join(ZohoConnection, ZohoConnection.installation_id == SyncRun.installation_id)
            .where(
                SyncRun.state == SyncState.succeeded.value,
                ZohoConnection.status == ConnectionStatus.connected.value,
                SyncRun.installation_id.in_(select(due.c.installation_id)),
            )
        )
        return list(rows.all())


async def push_changes(runtime: Runtime) -> PushTally:
    """Every installation's changes, one after the other (tests, the demo's seeding)."""
    total = PushTally()
    for installation_id in await installations_with_changes(runtime):
        if runtime.stopping.is_set():
            break
        total.add(await push_installation(runtime, installation_id))
    return total


async def push_installation(runtime: Runtime, installation_id: uuid.UUID) -> PushTally:
    """Up to MAX_BATCHES upserts of each module for one installation, under its lease."""
    tally = PushTally()
    lease = f"crm:{installation_id}"
    owner = await leases.acquire(runtime, lease)
    if owner is None:
        return tally
    try:
        async with runtime.sessionmaker() as session:
            connection = await session.get(ZohoConnection, installation_id)
        if connection is None:
            return tally
        crm = zoho_crm(runtime, connection, priority="background")
        tally.add(await push_customers(runtime, crm, installation_id, max_batches=MAX_BATCHES))
        tally.add(await push_payments(runtime, crm, installation_id, max_batches=MAX_BATCHES))
    except (ZohoError, AppError) as exc:
        log.warning("crm.push_failed", installation_id=str(installation_id), error=str(exc))
    finally:
        await leases.release(runtime, lease, owner)
    return tally
