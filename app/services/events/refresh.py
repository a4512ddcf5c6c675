"""What an event means for the mirror: refetch the resource it names, store the latest state.

A webhook is only a notice: the current resource is fetched from GoCardless, so duplicates and
out-of-order deliveries all end in the latest state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import GoCardlessNotFound
from app.adapters.gocardless.models import Event, Mandate, Payment, Payout
from app.adapters.zoho.errors import ZohoError
from app.adapters.zoho.names import CONTACTS
from app.log import get_logger
from app.models import (
    ConnectionStatus,
    GcCustomer,
    GcMandate,
    GcPayment,
    GoCardlessConnection,
    Installation,
    MandateRequestStatus,
    SyncRun,
    SyncState,
    ZohoConnection,
)
from app.runtime import Runtime
from app.services.installations import zoho_usable
from app.services.invoice_follow_up import COLLECTED, PaymentChange, follow_invoice
from app.services.mandate_fulfilment import mandate_request_closed, mandate_request_fulfilled
from app.services.mirror import (
    invoice_of,
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


# Billing request events that end a pending mandate request here, and how.
_CLOSING = {
    "cancelled": MandateRequestStatus.cancelled,
    "failed": MandateRequestStatus.failed,
    "flow_exited": MandateRequestStatus.exited,
}


class Refresher:
    """Refetches what an event names and stores it in the mirror."""

    def __init__(self, runtime: Runtime, installation: Installation, gc: GoCardlessClient) -> None:
        self.runtime = runtime
        self.installation = installation
        self.gc = gc
        # Related resources being fetched for one event, which events processed alongside
        # (payments of one mandate) wait for instead of fetching them again.
        self._related: dict[str, asyncio.Future[None]] = {}
        self._payouts: dict[str, asyncio.Future[Payout]] = {}

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
        elif resource_type == "billing_requests" and action in _CLOSING:
            await mandate_request_closed(
                self.runtime, self.installation, resource_id, _CLOSING[action]
            )
        else:
            return False
        return True

    async def refresh_payment(self, payment_id: str, events: Sequence[Event] = ()) -> None:
        fetched_at = datetime.now(UTC)
        await self.save_payments([await self.gc.get_payment(payment_id)], fetched_at, events)

    async def save_payments(
        self, payments: Sequence[Payment], fetched_at: datetime, events: Sequence[Event] = ()
    ) -> None:
        """Store payments as read at `fetched_at` (their mandates first when new to us), and
        what only their events say: the latest failure's reason and the payout each went out
        in."""
        if not payments:
            return
        await self._ensure_mandates({p.links.mandate for p in payments if p.links.mandate})
        by_payment: dict[str, list[Event]] = {}
        for event in events:
            if event.links.payment:
                by_payment.setdefault(event.links.payment, []).append(event)
        failures: dict[str, Event] = {}
        paid_in: dict[str, list[str]] = {}
        for payment in payments:
            named = by_payment.get(payment.id, [])
            failure = _latest(e for e in named if e.action in FAILURE_ACTIONS)
            if failure is not None and failure.created_at is not None and failure.id:
                failures[payment.id] = failure
            paid_out = _latest(e for e in named if e.action == "paid_out" and e.links.payout)
            if paid_out is not None and paid_out.links.payout:
                paid_in.setdefault(paid_out.links.payout, []).append(payment.id)
        # A payout carries many payments: read once per pass, however many name it.
        payouts = [(await self._payout_once(payout_id), ids) for payout_id, ids in paid_in.items()]
        async with self.runtime.sessionmaker() as session, session.begin():
            before = dict(
                (
                    await session.execute(
                        select(GcPayment.id, GcPayment.status).where(
                            GcPayment.installation_id == self.installation.id,
                            GcPayment.id.in_([p.id for p in payments]),
                        )
                    )
                ).all()
            )
            await store_payments(
                session,
                self.installation.id,
                payments,
                fetched_at,
                zoho_org_id=self.installation.zoho_org_id,
            )
            for payment_id, failure in failures.items():
                assert failure.created_at is not None and failure.id is not None
                reason = failure_reason(failure.details.cause, failure.details.description)
                await record_failure(
                    session,
                    self.installation.id,
                    payment_id,
                    reason,
                    (failure.created_at, failure.id),
                )
            for payout, payment_ids in payouts:
                await record_payout(session, self.installation.id, payout, payment_ids)
        for payment in payments:
            change = PaymentChange(
                id=payment.id,
                status=payment.status,
                amount=payment.amount,
                currency=payment.currency,
                invoice_id=invoice_of(payment.metadata, self.installation.zoho_org_id),
                was_collected=before.get(payment.id) in COLLECTED,
            )
            await follow_invoice(
                self.runtime, self.installation, change, by_payment.get(payment.id, [])
            )

    async def _payout_once(self, payout_id: str) -> Payout:
        if payout_id not in self._payouts:
            self._payouts[payout_id] = asyncio.ensure_future(self.gc.get_payout(payout_id))
        return await asyncio.shield(self._payouts[payout_id])

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
        await self.save_mandates([await self.gc.get_mandate(mandate_id)], fetched_at)

    async def save_mandates(self, mandates: Sequence[Mandate], fetched_at: datetime) -> None:
        """Store mandates read at `fetched_at`, their customers first when new to us."""
        if not mandates:
            return
        await self._ensure_customers({m.links.customer for m in mandates if m.links.customer})
        async with self.runtime.sessionmaker() as session, session.begin():
            await store_mandates(session, self.installation.id, mandates, fetched_at)
        # Replaced (`replaced` event): the popup shows, and payments go to, the new ones.
        await self._ensure_mandates({m.links.new_mandate for m in mandates if m.links.new_mandate})

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

    async def _ensure_mandates(self, mandate_ids: Collection[str]) -> None:
        if not mandate_ids:
            return
        async with self.runtime.sessionmaker() as session:
            known = set(
                await session.scalars(
                    select(GcMandate.id).where(
                        GcMandate.installation_id == self.installation.id,
                        GcMandate.id.in_(list(mandate_ids)),
                        GcMandate.customer_id.is_not(None),
                    )
                )
            )
        await self._fetch_missing("mandates", set(mandate_ids) - known, self.refresh_mandate)

    async def _ensure_customers(self, customer_ids: Collection[str]) -> None:
        if not customer_ids:
            return
        async with self.runtime.sessionmaker() as session:
            known = set(
                await session.scalars(
                    select(GcCustomer.id).where(
                        GcCustomer.installation_id == self.installation.id,
                        GcCustomer.id.in_(list(customer_ids)),
                    )
                )
            )
        await self._fetch_missing("customers", set(customer_ids) - known, self.refresh_customer)

    async def _fetch_missing(
        self, kind: str, ids: set[str], fetch: Callable[[str], Awaitable[None]]
    ) -> None:
        # Pages of events cover only the resources they name: the related ones new to us are
        # fetched one by one, once per pass, however many payments or mandates point at them.
        async with asyncio.TaskGroup() as tasks:
            for resource_id in sorted(ids):
                tasks.create_task(self._once(f"{kind}/{resource_id}", partial(fetch, resource_id)))

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
            contacts = await zoho_crm(self.runtime, zoho, priority="background").search_by_email(
                CONTACTS, email
            )
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
