"""What an event means for the mirror: refetch the resource it names, store the latest state.

A webhook is only a notice: the current resource is fetched from GoCardless, so duplicates and
out-of-order deliveries all end in the latest state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import GoCardlessNotFound
from app.adapters.gocardless.models import Event
from app.adapters.zoho.errors import ZohoError
from app.adapters.zoho.names import CONTACTS
from app.log import get_logger
from app.models import (
    ConnectionStatus,
    GcCustomer,
    GcMandate,
    GoCardlessConnection,
    Installation,
    SyncRun,
    SyncState,
    ZohoConnection,
)
from app.runtime import Runtime
from app.services.installations import zoho_usable
from app.services.mandate_fulfilment import mandate_request_cancelled, mandate_request_fulfilled
from app.services.mirror import (
    record_failure,
    record_payout,
    store_customers,
    store_mandates,
    store_payments,
)
from app.services.payment_standing import failure_reason
from app.services.providers import zoho_crm

log = get_logger("app.services.events.refresh")

META_CONTACT_ID = "zoho_contact_id"
# The events that say why a payment did not (or no longer does) pay its invoice.
FAILURE_ACTIONS = frozenset({"failed", "charged_back"})
_NEVER = datetime.min.replace(tzinfo=UTC)


def _latest(events: Iterable[Event]) -> Event | None:
    """The most recent of these events by GoCardless's own time (delivery order is not),
    then by id, so events of one instant always end in the same one."""
    return max(events, key=lambda event: (event.created_at or _NEVER, event.id or ""), default=None)


class Refresher:
    """Refetches what an event names and stores it in the mirror."""

    def __init__(self, runtime: Runtime, installation: Installation, gc: GoCardlessClient) -> None:
        self.runtime = runtime
        self.installation = installation
        self.gc = gc
        # Related resources being fetched for one event, which events processed alongside
        # (payments of one mandate) wait for instead of fetching them again.
        self._related: dict[str, asyncio.Future[None]] = {}

    async def handle(
        self,
        resource_type: str,
        resource_id: str | None,
        action: str,
        events: Sequence[Event] = (),
    ) -> bool:
        if resource_type == "organisations" and action == "disconnected":
            await self._disconnected()
            return True
        if resource_type == "creditors":
            await self._creditor()
            return True
        if resource_id is None:
            return False
        if resource_type == "payments":
            await self.refresh_payment(resource_id, events)
        elif resource_type == "refunds":
            await self._refund(resource_id)
        elif resource_type == "payouts":
            await self._payout(resource_id)
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

    async def refresh_payment(self, payment_id: str, events: Sequence[Event] = ()) -> None:
        """Store the payment as it is now, and what only its events say: the latest failure's
        reason and the payout it went out in."""
        fetched_at = datetime.now(UTC)
        payment = await self.gc.get_payment(payment_id)
        if payment.links.mandate:
            await self._ensure_mandate(payment.links.mandate)
        failure = _latest(e for e in events if e.action in FAILURE_ACTIONS)
        paid_out = _latest(e for e in events if e.action == "paid_out" and e.links.payout)
        payout_id = paid_out.links.payout if paid_out else None
        payout = await self.gc.get_payout(payout_id) if payout_id else None
        async with self.runtime.sessionmaker() as session, session.begin():
            await store_payments(
                session,
                self.installation.id,
                [payment],
                fetched_at,
                zoho_org_id=self.installation.zoho_org_id,
            )
            if failure is not None and failure.created_at is not None and failure.id:
                reason = failure_reason(failure.details.cause, failure.details.description)
                await record_failure(
                    session,
                    self.installation.id,
                    payment.id,
                    reason,
                    (failure.created_at, failure.id),
                )
            if payout is not None:
                await record_payout(session, self.installation.id, payout, [payment.id])

    async def _refund(self, refund_id: str) -> None:
        """A refund changes what its payment says it has refunded: the payment is read again."""
        try:
            refund = await self.gc.get_refund(refund_id)
        except GoCardlessNotFound:
            return
        if refund.links.payment:
            await self.refresh_payment(refund.links.payment)

    async def _payout(self, payout_id: str) -> None:
        payout = await self.gc.get_payout(payout_id)
        async with self.runtime.sessionmaker() as session, session.begin():
            await record_payout(session, self.installation.id, payout)

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
            await self._once(f"mandates/{mandate_id}", lambda: self.refresh_mandate(mandate_id))

    async def _ensure_customer(self, customer_id: str) -> None:
        async with self.runtime.sessionmaker() as session:
            known = await session.get(GcCustomer, (self.installation.id, customer_id))
        if known is None:
            await self._once(f"customers/{customer_id}", lambda: self.refresh_customer(customer_id))

    async def _once(self, key: str, fetch: Callable[[], Awaitable[None]]) -> None:
        if key not in self._related:
            self._related[key] = asyncio.ensure_future(fetch())
        # Shielded: one waiter's timeout must not cancel the fetch the others wait for.
        await asyncio.shield(self._related[key])

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
