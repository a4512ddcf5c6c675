"""The worker's side of the inbox: claim due events, refetch what they name, update the mirror.

A webhook is only a notice: the current resource is fetched from GoCardless, so duplicates and
out-of-order deliveries all end in the latest state. Events for one resource claimed together
are coalesced into one fetch, which keeps an event storm inside the rate budget.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import (
    GoCardlessError,
    GoCardlessNotFound,
    GoCardlessUnauthorized,
)
from app.adapters.zoho.errors import ZohoError
from app.adapters.zoho.names import CONTACTS
from app.log import get_logger
from app.models import (
    ConnectionStatus,
    EventStatus,
    GcCustomer,
    GcMandate,
    GoCardlessConnection,
    InboxEvent,
    Installation,
    SyncRun,
    SyncState,
    ZohoConnection,
)
from app.runtime import Runtime
from app.services.installations import zoho_usable
from app.services.mandate_fulfilment import mandate_request_cancelled, mandate_request_fulfilled
from app.services.mirror import store_customers, store_mandates, store_payments
from app.services.providers import gocardless_client, zoho_crm

log = get_logger("app.services.event_processing")

CLAIM_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 8
META_CONTACT_ID = "zoho_contact_id"


@dataclass
class Claimed:
    pk: int
    installation_id: uuid.UUID
    resource_type: str
    action: str
    resource_id: str | None
    attempts: int
    received_at: datetime


async def claim(runtime: Runtime, limit: int) -> list[Claimed]:
    """Claim due events for this worker; SKIP LOCKED lets several workers share the inbox."""
    now = datetime.now(UTC)
    due = (
        select(InboxEvent.pk)
        .where(
            InboxEvent.status == EventStatus.pending.value,
            InboxEvent.next_attempt_at <= now,
            or_(InboxEvent.claimed_until.is_(None), InboxEvent.claimed_until < now),
        )
        .order_by(InboxEvent.pk)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with runtime.sessionmaker() as session, session.begin():
        rows = (
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.pk.in_(due.scalar_subquery()))
                .values(claimed_until=now + CLAIM_TTL)
                .returning(
                    InboxEvent.pk,
                    InboxEvent.installation_id,
                    InboxEvent.resource_type,
                    InboxEvent.action,
                    InboxEvent.resource_id,
                    InboxEvent.attempts,
                    InboxEvent.created_at,
                )
            )
        ).all()
    return [Claimed(*row) for row in rows]


async def process_due_events(runtime: Runtime, *, limit: int = 500) -> int:
    """One pass over the inbox; returns how many events it settled."""
    claimed = await claim(runtime, limit)
    by_installation: dict[uuid.UUID, list[Claimed]] = defaultdict(list)
    for event in claimed:
        by_installation[event.installation_id].append(event)
    for installation_id, events in by_installation.items():
        await _process_installation(runtime, installation_id, events)
    return len(claimed)


async def _process_installation(
    runtime: Runtime, installation_id: uuid.UUID, events: list[Claimed]
) -> None:
    async with runtime.sessionmaker() as session:
        installation = await session.get(Installation, installation_id)
        connection = await session.get(GoCardlessConnection, installation_id)
    groups: dict[tuple[str, str | None, str], list[Claimed]] = defaultdict(list)
    for event in events:
        # Disconnection and billing-request fulfilment are acted on per event; the rest is
        # "refetch this resource", which one fetch answers for any number of events.
        action = (
            event.action if event.resource_type in ("organisations", "billing_requests") else ""
        )
        groups[(event.resource_type, event.resource_id, action)].append(event)
    if installation is None or connection is None:
        await _settle(runtime, events, EventStatus.ignored, "no GoCardless connection")
        return
    gc = gocardless_client(runtime, connection, priority="background")
    processor = _Processor(runtime, installation, gc)
    revoked = connection.status != ConnectionStatus.connected
    for (resource_type, resource_id, action), group in groups.items():
        if revoked and resource_type != "organisations":
            await _await_reauthorization(runtime, group)
            continue
        try:
            handled = await processor.handle(resource_type, resource_id, action or group[0].action)
        except GoCardlessUnauthorized:
            # Access was revoked before (or without) the disconnect event reaching us.
            await processor.mark_revoked("GoCardless refused our access token")
            revoked = True
            await _await_reauthorization(runtime, group)
            continue
        except (GoCardlessError, ZohoError) as exc:
            await _retry_later(runtime, group, exc)
            continue
        status = EventStatus.processed if handled else EventStatus.ignored
        await _settle(runtime, group, status, None)
        lag = (datetime.now(UTC) - min(e.received_at for e in group)).total_seconds()
        runtime.metrics.events_processed.labels(resource_type, status.value).inc(len(group))
        runtime.metrics.event_lag.observe(max(lag, 0.0))


class _Processor:
    def __init__(self, runtime: Runtime, installation: Installation, gc: GoCardlessClient) -> None:
        self.runtime = runtime
        self.installation = installation
        self.gc = gc

    async def handle(self, resource_type: str, resource_id: str | None, action: str) -> bool:
        if resource_type == "organisations" and action == "disconnected":
            await self._disconnected()
            return True
        if resource_type == "creditors":
            await self._creditor()
            return True
        if resource_id is None:
            return False
        if resource_type == "payments":
            await self.refresh_payment(resource_id)
        elif resource_type == "mandates":
            await self.refresh_mandate(resource_id)
        elif resource_type == "customers":
            await self.refresh_customer(resource_id)
        elif resource_type == "billing_requests" and action == "fulfilled":
            await self._billing_request_fulfilled(resource_id)
        elif resource_type == "billing_requests" and action == "cancelled":
            await mandate_request_cancelled(self.runtime, self.installation, resource_id)
        else:
            return False
        return True

    async def refresh_payment(self, payment_id: str) -> None:
        fetched_at = datetime.now(UTC)
        payment = await self.gc.get_payment(payment_id)
        if payment.links.mandate:
            await self._ensure_mandate(payment.links.mandate)
        async with self.runtime.sessionmaker() as session, session.begin():
            await store_payments(
                session,
                self.installation.id,
                [payment],
                fetched_at,
                zoho_org_id=self.installation.zoho_org_id,
            )

    async def refresh_mandate(self, mandate_id: str) -> None:
        fetched_at = datetime.now(UTC)
        mandate = await self.gc.get_mandate(mandate_id)
        if mandate.links.customer:
            await self._ensure_customer(mandate.links.customer)
        async with self.runtime.sessionmaker() as session, session.begin():
            await store_mandates(session, self.installation.id, [mandate], fetched_at)

    async def refresh_customer(self, customer_id: str, contact_id: str | None = None) -> None:
        fetched_at = datetime.now(UTC)
        try:
            customer = await self.gc.get_customer(customer_id)
        except GoCardlessNotFound:
            # Removed customers vanish from the API; the CRM record stays as history.
            return
        async with self.runtime.sessionmaker() as session, session.begin():
            known = await session.get(GcCustomer, (self.installation.id, customer_id))
            await store_customers(session, self.installation.id, [customer], fetched_at)
            if contact_id is None and (known is None or known.contact_id is None):
                contact_id = await self._contact_for_email(session, customer.email)
            if contact_id:
                await _link_contact(session, self.installation.id, customer_id, contact_id)

    async def _ensure_mandate(self, mandate_id: str) -> None:
        async with self.runtime.sessionmaker() as session:
            known = await session.get(GcMandate, (self.installation.id, mandate_id))
        if known is None or known.customer_id is None:
            await self.refresh_mandate(mandate_id)

    async def _ensure_customer(self, customer_id: str) -> None:
        async with self.runtime.sessionmaker() as session:
            known = await session.get(GcCustomer, (self.installation.id, customer_id))
        if known is None:
            await self.refresh_customer(customer_id)

    async def _billing_request_fulfilled(self, billing_request_id: str) -> None:
        request = await self.gc.get_billing_request(billing_request_id)
        contact_id = request.metadata.get(META_CONTACT_ID)
        if request.links.customer:
            await self.refresh_customer(
                request.links.customer, contact_id if contact_id and contact_id.isdigit() else None
            )
        if request.links.mandate_request_mandate:
            await self.refresh_mandate(request.links.mandate_request_mandate)
            await mandate_request_fulfilled(
                self.runtime,
                self.installation,
                billing_request_id,
                customer_id=request.links.customer,
                mandate_id=request.links.mandate_request_mandate,
            )

    async def _contact_for_email(self, session: AsyncSession, email: str | None) -> str | None:
        """Real-time customers are matched one by one; Sync Now matches in bulk instead."""
        if not email:
            return None
        run = await session.get(SyncRun, self.installation.id)
        zoho = await session.get(ZohoConnection, self.installation.id)
        if run is None or run.state != SyncState.succeeded or not zoho_usable(zoho):
            return None
        assert zoho is not None
        try:
            contacts = await zoho_crm(self.runtime, zoho).search_by_email(CONTACTS, email)
        except ZohoError as exc:
            log.info("crm.contact_match_skipped", code=exc.code)
            return None
        matches = {
            str(c["id"])
            for c in contacts
            if str(c.get("Email") or "").strip().lower() == email.strip().lower()
        }
        return matches.pop() if len(matches) == 1 else None

    async def _disconnected(self) -> None:
        await self.mark_revoked("The merchant disconnected the app in GoCardless")

    async def mark_revoked(self, reason: str) -> None:
        async with self.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(GoCardlessConnection)
                .where(GoCardlessConnection.installation_id == self.installation.id)
                .values(status=ConnectionStatus.revoked.value, status_reason=reason)
            )
        log.warning(
            "gocardless.access_revoked", installation_id=str(self.installation.id), reason=reason
        )

    async def _creditor(self) -> None:
        creditors = await self.gc.list_creditors()
        if not creditors:
            return
        async with self.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(GoCardlessConnection)
                .where(GoCardlessConnection.installation_id == self.installation.id)
                .values(
                    verification_status=creditors[0].verification_status,
                    creditor_id=creditors[0].id,
                    creditor_name=creditors[0].name,
                )
            )


async def _link_contact(
    session: AsyncSession, installation_id: uuid.UUID, customer_id: str, contact_id: str
) -> None:
    await session.execute(
        update(GcCustomer)
        .where(
            and_(GcCustomer.installation_id == installation_id, GcCustomer.id == customer_id),
            GcCustomer.contact_id.is_distinct_from(contact_id),
        )
        .values(
            contact_id=contact_id,
            crm_version=GcCustomer.crm_version + 1,
            crm_state="pending",
            crm_retry_at=None,
        )
    )


async def _settle(
    runtime: Runtime, events: list[Claimed], status: EventStatus, error: str | None
) -> None:
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(InboxEvent)
            .where(InboxEvent.pk.in_([e.pk for e in events]))
            .values(status=status.value, processed_at=now, claimed_until=None, last_error=error)
        )


# Events wait this long between looks while GoCardless access is revoked; they don't use up
# their attempts, and a re-authorization lets them through on the next look.
REAUTHORIZATION_POLL = timedelta(minutes=10)


async def _await_reauthorization(runtime: Runtime, events: list[Claimed]) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(InboxEvent)
            .where(InboxEvent.pk.in_([e.pk for e in events]))
            .values(
                next_attempt_at=datetime.now(UTC) + REAUTHORIZATION_POLL,
                claimed_until=None,
                last_error="waiting for GoCardless to be authorized again",
            )
        )


async def _retry_later(
    runtime: Runtime, events: list[Claimed], exc: GoCardlessError | ZohoError
) -> None:
    now = datetime.now(UTC)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    async with runtime.sessionmaker() as session, session.begin():
        for event in events:
            attempts = event.attempts + 1
            parked = attempts >= MAX_ATTEMPTS
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.pk == event.pk)
                .values(
                    attempts=attempts,
                    status=EventStatus.failed.value if parked else EventStatus.pending.value,
                    next_attempt_at=now + timedelta(seconds=min(2**attempts, 900)),
                    claimed_until=None,
                    last_error=error,
                )
            )
    parked_count = sum(1 for e in events if e.attempts + 1 >= MAX_ATTEMPTS)
    # Counted per event: events coalesced into one fetch may be on different attempts.
    runtime.metrics.event_failures.labels("parked").inc(parked_count)
    runtime.metrics.event_failures.labels("retry").inc(len(events) - parked_count)
    log.warning(
        "event.processing_failed",
        installation_id=str(events[0].installation_id),
        resource_type=events[0].resource_type,
        events=len(events),
        error=error,
    )


async def replay_failed(runtime: Runtime, installation_id: uuid.UUID | None = None) -> int:
    """Operator command: put parked events back in the queue with a fresh attempt budget."""
    now = datetime.now(UTC)
    conditions = [InboxEvent.status == EventStatus.failed.value]
    if installation_id is not None:
        conditions.append(InboxEvent.installation_id == installation_id)
    async with runtime.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(InboxEvent)
            .where(*conditions)
            .values(status=EventStatus.pending.value, attempts=0, next_attempt_at=now)
            .returning(InboxEvent.pk)
        )
        return len(result.all())
