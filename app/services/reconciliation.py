"""Customer details reach the CRM although GoCardless sends no event when they change.

Every `CUSTOMER_RECONCILE_INTERVAL_SECONDS` each installation that finished Sync Now re-lists
its customers in pages of 500 (ceil(n / 500) calls, logged) into the mirror; the mirror keeps
the newest read and queues only rows whose fields changed for the CRM. A missed or unsent
change heals within one interval.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update

from app.adapters.gocardless.client import MAX_PAGE_SIZE
from app.adapters.gocardless.errors import GoCardlessError
from app.log import get_logger
from app.models import ConnectionStatus, EventCursor, GoCardlessConnection
from app.runtime import Runtime
from app.services.mirror import store_customers
from app.services.providers import gocardless_client

log = get_logger(__name__)


async def claim_due_reconciliations(runtime: Runtime, now: datetime) -> list[uuid.UUID]:
    """Installations due a re-list, stamped in the same statement so one process takes each."""
    due_before = now - timedelta(seconds=runtime.settings.customer_reconcile_interval_seconds)
    last = func.coalesce(EventCursor.customers_reconciled_at, EventCursor.created_at)
    async with runtime.sessionmaker() as session, session.begin():
        claimed = await session.scalars(
            update(EventCursor)
            .where(last < due_before)
            .values(customers_reconciled_at=now)
            .returning(EventCursor.installation_id)
        )
        return list(claimed.all())


async def reconcile_customers(runtime: Runtime, installation_id: uuid.UUID) -> int:
    """Re-list one installation's customers into the mirror; returns the calls it made."""
    async with runtime.sessionmaker() as session:
        connection = await session.get(GoCardlessConnection, installation_id)
    if connection is None or connection.status != ConnectionStatus.connected:
        return 0
    gc = gocardless_client(runtime, connection, priority="background")
    calls = listed = 0
    after: str | None = None
    while True:
        fetched_at = datetime.now(UTC)
        page = await gc.list_customers_page(after, limit=MAX_PAGE_SIZE)
        calls += 1
        listed += len(page.items)
        async with runtime.sessionmaker() as session, session.begin():
            await store_customers(session, installation_id, page.items, fetched_at)
        if page.after is None:
            break
        after = page.after
    log.info(
        "customers.reconciled", installation_id=str(installation_id), customers=listed, calls=calls
    )
    return calls


async def reconcile_due_customers(runtime: Runtime) -> int:
    """The worker's periodic job: every due installation, each on its own."""
    calls = 0
    for installation_id in await claim_due_reconciliations(runtime, datetime.now(UTC)):
        try:
            calls += await reconcile_customers(runtime, installation_id)
        except GoCardlessError as exc:
            log.warning(
                "customers.reconcile_failed", installation_id=str(installation_id), error=str(exc)
            )
    return calls
