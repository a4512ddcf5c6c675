"""Retry: submit a failed payment to the bank again (GoCardless `actions/retry`).

The same payment is collected again, never a new one, so an invoice keeps one payment. Only a
payment GoCardless would retry is sent: failed, not already booked for an automatic retry,
fewer than three retries, on an active mandate; and never one whose invoice has since gone
on to another payment, which would collect the invoice twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.errors import GoCardlessInvalidState
from app.adapters.gocardless.models import Payment
from app.errors import AppError
from app.log import get_logger
from app.models import GcPayment, Installation, InvoicePayment, InvoicePaymentState, ZohoConnection
from app.runtime import Runtime
from app.schemas.invoices import PaymentOut
from app.services.invoice_payments import API_KEY_ACTOR, live_payment, payment_to_crm_now
from app.services.invoices import payment_out
from app.services.mirror import store_payments
from app.services.payment_standing import Standing, verdict
from app.services.providers import zoho_crm

log = get_logger("app.services.payment_retries")


class PaymentNotRetryable(AppError):
    status, code, title = 409, "payment_not_retryable", "The payment cannot be retried"


async def retry_invoice_payment(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    zoho: ZohoConnection,
    user_id: str | None,
    payment_id: str,
) -> PaymentOut:
    gc, known, current = await live_payment(session, runtime, installation, payment_id)
    judged = await verdict(gc, current)
    if judged.standing != Standing.retryable:
        # Kept although the request fails: the popup should show what GoCardless just said.
        await store_payments(
            session,
            installation.id,
            [current],
            datetime.now(UTC),
            zoho_org_id=installation.zoho_org_id,
        )
        raise PaymentNotRetryable(
            f"Payment {payment_id} cannot be retried: {judged.reason}.",
            payment_status=current.status,
            standing=judged.standing.value,
        ).keeping_changes()
    await _hold_invoice(session, installation, known)
    try:
        retried = await gc.retry_payment(
            payment_id, metadata={"retried_by_zoho_user": user_id or API_KEY_ACTOR}
        )
    except GoCardlessInvalidState as exc:
        raise PaymentNotRetryable(
            f"GoCardless refused to retry payment {payment_id}: {exc.message}",
            payment_status=current.status,
        ) from None
    return await _stored(session, runtime, installation, zoho, retried)


async def _hold_invoice(
    session: AsyncSession, installation: Installation, payment: GcPayment
) -> None:
    """Make the payment its invoice's live one again, unless another payment is."""
    if payment.invoice_id is None:
        return
    rows = (
        await session.scalars(
            select(InvoicePayment)
            .where(
                InvoicePayment.installation_id == installation.id,
                InvoicePayment.invoice_id == payment.invoice_id,
            )
            .with_for_update()
        )
    ).all()
    live = next((r for r in rows if r.state == InvoicePaymentState.live.value), None)
    if live is not None and live.gc_payment_id not in (None, payment.id):
        raise PaymentNotRetryable(
            f"Payment {payment.id} cannot be retried: invoice {payment.invoice_id} is now "
            f"collected by payment {live.gc_payment_id}.",
            payment_status=payment.status,
        )
    own = next((r for r in rows if r.gc_payment_id == payment.id), None)
    if live is None and own is not None:
        own.state = InvoicePaymentState.live
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            raise PaymentNotRetryable(
                f"Payment {payment.id} cannot be retried: invoice {payment.invoice_id} was "
                "just collected by another payment.",
                payment_status=payment.status,
            ) from None


async def _stored(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    zoho: ZohoConnection,
    payment: Payment,
) -> PaymentOut:
    await store_payments(
        session, installation.id, [payment], datetime.now(UTC), zoho_org_id=installation.zoho_org_id
    )
    await session.flush()
    log.info("invoice.payment_retried", installation_id=str(installation.id), payment_id=payment.id)
    await payment_to_crm_now(session, runtime, zoho_crm(runtime, zoho), installation.id, payment.id)
    stored = await session.get(GcPayment, (installation.id, payment.id), populate_existing=True)
    assert stored is not None
    return payment_out(stored)
