"""Refunds from the widget: all or part of a collected payment back to the customer.

GoCardless takes `total_amount_confirmation`, everything refunded on the payment including
the new refund, so two refunds made at once cannot both pass. Against double clicks and
retried requests each refund is first written down (`PaymentRefund`, committed before the
call) with an idempotency key made of the payment, the amount already refunded and the
amount: a repeat finds the same row and sends the same key, so GoCardless answers with the
refund it already made. The same amount asked again for the same payment within
`REPEAT_WINDOW` is taken as a repeat and answered with the earlier refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import (
    GoCardlessForbidden,
    GoCardlessInvalidState,
    GoCardlessValidationFailed,
)
from app.adapters.gocardless.models import Payment, Refund
from app.errors import AppError
from app.log import get_logger
from app.models import Installation, PaymentRefund
from app.money import format_money, from_minor_units
from app.runtime import Runtime
from app.services.invoice_payments import live_payment
from app.services.mirror import store_payments

log = get_logger("app.services.payment_refunds")

REPEAT_WINDOW = timedelta(minutes=10)
# Money GoCardless has collected: only that can be given back.
REFUNDABLE = frozenset({"confirmed", "paid_out"})


class RefundsNotEnabled(AppError):
    status, code, title = 409, "refunds_not_enabled", "Refunds are not enabled at GoCardless"


class PaymentNotRefundable(AppError):
    status, code, title = 409, "payment_not_refundable", "The payment cannot be refunded"


class RefundExceedsPayment(AppError):
    status, code, title = 422, "refund_exceeds_payment", "More than is left to refund"


class RefundConflict(AppError):
    status, code, title = 409, "refund_conflict", "Another refund of this payment came first"


@dataclass(frozen=True)
class RefundMade:
    refund: Refund
    # False when the request repeated one already answered.
    created: bool


async def refund_payment(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    user_id: str | None,
    payment_id: str,
    amount: int,
) -> RefundMade:
    gc, _, current = await live_payment(session, runtime, installation, payment_id)
    repeated = await _recent(runtime, installation, payment_id, amount)
    if repeated is not None and repeated.refund_id is not None:
        return RefundMade(await gc.get_refund(repeated.refund_id), created=False)
    if repeated is None:
        _check(current, amount)
        creditors = await gc.list_creditors()
        if not creditors or not creditors[0].can_create_refunds:
            raise RefundsNotEnabled(
                "Refunds are not enabled for this GoCardless account; the merchant can ask "
                "GoCardless to enable them."
            )
        repeated = await _write_down(runtime, installation, user_id, current, amount)
    refund, created = await _create(gc, repeated, current)
    await _recorded(runtime, repeated, refund.id)
    await store_payments(
        session,
        installation.id,
        [await gc.get_payment(payment_id)],
        datetime.now(UTC),
        zoho_org_id=installation.zoho_org_id,
    )
    log.info(
        "payment.refunded",
        installation_id=str(installation.id),
        payment_id=payment_id,
        refund_id=refund.id,
        amount=amount,
    )
    return RefundMade(refund, created=created)


def _check(payment: Payment, amount: int) -> None:
    if payment.status not in REFUNDABLE:
        raise PaymentNotRefundable(
            f"Payment {payment.id} is {payment.status.replace('_', ' ')}: only a collected "
            "(confirmed or paid out) payment can be refunded.",
            payment_status=payment.status,
        )
    left = payment.amount - (payment.amount_refunded or 0)
    if amount > left:
        words = format_money(from_minor_units(left, payment.currency), payment.currency)
        raise RefundExceedsPayment(
            f"At most {words} of payment {payment.id} is left to refund.", refundable=left
        )


async def _recent(
    runtime: Runtime, installation: Installation, payment_id: str, amount: int
) -> PaymentRefund | None:
    since = datetime.now(UTC) - REPEAT_WINDOW
    async with runtime.sessionmaker() as session:
        found: PaymentRefund | None = await session.scalar(
            select(PaymentRefund)
            .where(
                PaymentRefund.installation_id == installation.id,
                PaymentRefund.payment_id == payment_id,
                PaymentRefund.amount == amount,
                PaymentRefund.created_at >= since,
            )
            .order_by(PaymentRefund.created_at.desc())
            .limit(1)
        )
    return found


async def _write_down(
    runtime: Runtime,
    installation: Installation,
    user_id: str | None,
    payment: Payment,
    amount: int,
) -> PaymentRefund:
    """The refund about to be asked for, committed first: whatever happens to this request,
    a repeat sends the same key. Two requests at once make the same key and share the row."""
    refunded = payment.amount_refunded or 0
    key = f"zoho:{installation.zoho_org_id}:{payment.id}:refund:{refunded}+{amount}"
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            insert(PaymentRefund)
            .values(
                installation_id=installation.id,
                payment_id=payment.id,
                amount=amount,
                idempotency_key=key,
                requested_by_user=user_id,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        row = await session.scalar(
            select(PaymentRefund).where(PaymentRefund.idempotency_key == key)
        )
    assert row is not None
    return row


async def _create(
    gc: GoCardlessClient, row: PaymentRefund, payment: Payment
) -> tuple[Refund, bool]:
    """The refund and whether this call made it (False: GoCardless had it under this key)."""
    refunded_before = int(row.idempotency_key.rsplit(":", 1)[1].split("+")[0])
    try:
        return await gc.create_refund(
            payment_id=row.payment_id,
            amount=row.amount,
            total_amount_confirmation=refunded_before + row.amount,
            idempotency_key=row.idempotency_key,
        )
    except GoCardlessForbidden:
        raise RefundsNotEnabled(
            "GoCardless refused: refunds are not enabled for this account."
        ) from None
    except (GoCardlessInvalidState, GoCardlessValidationFailed) as exc:
        if exc.has_reason("available_refund_amount_insufficient"):
            raise RefundExceedsPayment(
                f"GoCardless says less than that is left to refund on payment {payment.id}.",
                refundable=payment.amount - (payment.amount_refunded or 0),
            ) from None
        if exc.has_reason("total_amount_confirmation_invalid"):
            raise RefundConflict(
                f"Another refund of payment {payment.id} was made meanwhile; look at the "
                "payment again before refunding.",
            ) from None
        raise PaymentNotRefundable(
            f"GoCardless refused to refund payment {payment.id}: {exc.message}",
            payment_status=payment.status,
        ) from None


async def _recorded(runtime: Runtime, row: PaymentRefund, refund_id: str) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        stored = await session.get(PaymentRefund, row.id)
        if stored is not None:
            stored.refund_id = refund_id
