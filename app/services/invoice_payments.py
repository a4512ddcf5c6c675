"""Collect an invoice: one GoCardless payment per invoice, whatever clicks, retries or crashes.

The request inserts its `invoice_payments` row (the open-row unique index admits one per
invoice) and keeps that transaction open while GoCardless creates the payment with an
idempotency key derived from the invoice and attempt number. A concurrent click's insert waits
on the index and then finds the committed payment; a crash rolls the row back, and the retry
derives the same key, so GoCardless hands back the payment it already made.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import (
    GoCardlessError,
    GoCardlessInvalidState,
    GoCardlessNotFound,
    GoCardlessValidationFailed,
)
from app.adapters.gocardless.models import Payment
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoError
from app.errors import AppError, NotFound
from app.log import get_logger
from app.models import (
    GcCustomer,
    GcMandate,
    GcPayment,
    Installation,
    InvoicePayment,
    InvoicePaymentState,
    ZohoConnection,
)
from app.money import MAX_DEBIT_MINOR_UNITS, InvalidAmount, MoneyError, to_minor_units
from app.runtime import Runtime
from app.schemas.invoices import PaymentOut
from app.services.crm.push import push_now
from app.services.installations import require_gocardless
from app.services.invoices import (
    MAX_REPLACEMENTS,
    USABLE_MANDATE_STATUSES,
    Contact,
    Invoice,
    contact_customers,
    follow_replacements,
    payment_out,
    read_org_invoice,
    require_contact,
    require_synced,
    with_email,
)
from app.services.mirror import (
    META_INVOICE_ID,
    META_INVOICE_NUMBER,
    META_ORG_ID,
    store_customers,
    store_mandates,
    store_payments,
)
from app.services.payment_problems import ChargeDateNotAllowed, CurrencyMismatch, MandateNotUsable
from app.services.payment_standing import Standing, standing_from_status, verdict
from app.services.provider_errors import payment_refusal
from app.services.providers import gocardless_client, idempotency_key, zoho_crm

# Who the audit metadata names when the installation's API key (no CRM user) acts.
API_KEY_ACTOR = "api_key"

log = get_logger("app.services.invoice_payments")

# Where GoCardless lets a merchant set the bank-statement reference, and how long it may be
# (API-FACTS §10). Bacs needs a paid plan and PAD/Faster Payments allow none: left unset.
REFERENCE_LIMITS = {
    "sepa_core": 140,
    "autogiro": 11,
    "betalingsservice": 30,
    "becs_nz": 12,
    "ach": 10,
    "pay_to": 18,
}


class MandateNotFound(AppError):
    status, code, title = 404, "mandate_not_found", "No such mandate for this contact"


class InvalidInvoiceAmount(AppError):
    status, code, title = 422, "invalid_amount", "The invoice total cannot be collected"


class PaymentRetryPossible(AppError):
    status, code, title = (
        409,
        "payment_retry_possible",
        "The invoice's failed payment may be retried",
    )


class PaymentChargedBack(AppError):
    status, code, title = 409, "payment_charged_back", "The invoice's payment was charged back"


class PaymentNotCancellable(AppError):
    status, code, title = 409, "payment_not_cancellable", "The payment can no longer be cancelled"


@dataclass(frozen=True)
class PaymentResult:
    payment: PaymentOut
    created: bool


async def create_invoice_payment(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    zoho: ZohoConnection,
    user_id: str | None,
    *,
    invoice_id: str,
    mandate_id: str,
    charge_date: date | None,
    recollect: bool = False,
) -> PaymentResult:
    connection = await require_gocardless(session, runtime, installation)
    await require_synced(session, installation.id)
    gc = gocardless_client(runtime, connection)
    existing = await _open_payment(session, gc, installation, invoice_id, recollect=recollect)
    if existing is not None:
        return PaymentResult(payment_out(existing), created=False)
    crm = zoho_crm(runtime, zoho)
    # The contact's email only if the mandate's customer is not linked to it (seldom).
    invoice = await read_org_invoice(session, crm, zoho, invoice_id, contact_email=False)
    contact = require_contact(invoice)
    amount = _amount(invoice)
    mandate = await _contacts_mandate(
        session,
        installation.id,
        gc,
        crm,
        contact=contact,
        mandate_id=mandate_id,
    )
    # A replaced mandate (new scheme identifier) collects through its replacement.
    mandate = await follow_replacements(session, installation.id, gc, mandate)
    if mandate.status not in USABLE_MANDATE_STATUSES:
        raise MandateNotUsable(
            f"mandate {mandate.id} is {mandate.status.replace('_', ' ')} and cannot take payments",
            mandate_status=mandate.status,
        )
    if mandate.currency != invoice.currency:
        raise CurrencyMismatch(
            f"the invoice is in {invoice.currency} but mandate {mandate.id} "
            f"({mandate.scheme}) collects {mandate.currency}",
            invoice_currency=invoice.currency,
            mandate_currency=mandate.currency,
        )
    today = runtime.clock().date()
    _check_charge_date(charge_date, mandate, today=today)
    if charge_date is None:
        charge_date = await _due_date_charge(session, installation.id, gc, invoice, mandate, today)
    attempt = 1 + (
        await session.scalar(
            select(func.count())
            .select_from(InvoicePayment)
            .where(
                InvoicePayment.installation_id == installation.id,
                InvoicePayment.invoice_id == invoice_id,
                InvoicePayment.state == InvoicePaymentState.closed.value,
            )
        )
        or 0
    )
    row = InvoicePayment(
        installation_id=installation.id,
        invoice_id=invoice_id,
        attempt=attempt,
        idempotency_key=idempotency_key(installation.id, invoice_id, "payment", attempt),
        mandate_id=mandate.id,
        amount=amount,
        currency=invoice.currency,
        state=InvoicePaymentState.live,
        created_by_user=user_id,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Another request for this invoice committed first (we waited on its row): use it.
        existing = await _open_payment(session, gc, installation, invoice_id, recollect=False)
        if existing is None:
            raise
        return PaymentResult(payment_out(existing), created=False)
    for _ in range(MAX_REPLACEMENTS):
        try:
            payment = await _create_at_gocardless(
                gc, row, invoice, mandate, charge_date, installation.zoho_org_id
            )
            break
        except MandateReplaced as replaced:
            # GoCardless replaced it before the mirror heard: the same key (nothing was
            # created) goes to the replacement, which has the same customer and currency.
            mandate = await follow_replacements(
                session, installation.id, gc, mandate, replaced.new_mandate_id
            )
            row.mandate_id = mandate.id
    else:
        raise MandateNotUsable(f"mandate {mandate_id} was replaced too many times to follow")
    row.gc_payment_id = payment.id
    fetched_at = datetime.now(UTC)
    await store_payments(
        session, installation.id, [payment], fetched_at, zoho_org_id=installation.zoho_org_id
    )
    await session.flush()
    log.info(
        "invoice.payment_created",
        installation_id=str(installation.id),
        invoice_id=invoice_id,
        payment_id=payment.id,
        amount=amount,
        currency=invoice.currency,
    )
    await payment_to_crm_now(session, runtime, crm, installation.id, payment.id)
    stored = await session.get(GcPayment, (installation.id, payment.id), populate_existing=True)
    assert stored is not None
    return PaymentResult(payment_out(stored), created=True)


async def _open_payment(
    session: AsyncSession,
    gc: GoCardlessClient,
    installation: Installation,
    invoice_id: str,
    *,
    recollect: bool,
) -> GcPayment | None:
    """The payment that still stands for the invoice, or None when a new one may be made.

    The row is closed (freeing the invoice) only when the payment is over for good: a failed
    payment is re-read from GoCardless first, since it may still be retried, and a charge-back
    needs the caller's `recollect` confirmation.
    """
    row = await session.scalar(
        select(InvoicePayment).where(
            InvoicePayment.installation_id == installation.id,
            InvoicePayment.invoice_id == invoice_id,
            InvoicePayment.state == InvoicePaymentState.live.value,
        )
    )
    if row is None:
        row = await _adopt_earlier_payment(session, installation, invoice_id)
    if row is None or row.gc_payment_id is None:
        return None
    payment = await session.get(GcPayment, (installation.id, row.gc_payment_id))
    if payment is None:
        return None
    known = standing_from_status(payment.status)
    if known is not None and known.standing == Standing.holds:
        return payment
    if known is None or known.standing == Standing.charged_back:
        # The mirror may lag: only GoCardless knows where the payment is now.
        current = await gc.get_payment(payment.id)
        await store_payments(
            session,
            installation.id,
            [current],
            datetime.now(UTC),
            zoho_org_id=installation.zoho_org_id,
        )
        await session.refresh(payment)
        known = await verdict(gc, current)
    if known.standing == Standing.holds:
        return payment
    if known.standing in (Standing.retry_pending, Standing.retryable):
        raise PaymentRetryPossible(
            f"Invoice {invoice_id} keeps payment {payment.id}: {known.reason}. No second "
            "payment is made while the first may still be collected.",
            payment_id=payment.id,
            standing=known.standing.value,
        ).keeping_changes()
    if known.standing == Standing.charged_back and not recollect:
        raise PaymentChargedBack(
            f"Payment {payment.id} for invoice {invoice_id} was charged back: {known.reason}. "
            'Send "recollect_charged_back": true to collect the invoice again.',
            payment_id=payment.id,
        ).keeping_changes()
    row.state = InvoicePaymentState.closed
    await session.flush()
    return None


async def _adopt_earlier_payment(
    session: AsyncSession, installation: Installation, invoice_id: str
) -> InvoicePayment | None:
    """A payment made for the invoice before a reinstall (or a GoCardless reconnection) has no
    row here, only its copy in the mirror, found by its metadata: the newest one that is not
    over takes the invoice's slot again, so it is judged like any other and never doubled.
    """
    ours = select(InvoicePayment.gc_payment_id).where(
        InvoicePayment.installation_id == installation.id,
        InvoicePayment.gc_payment_id.is_not(None),
    )
    earlier = (
        await session.scalars(
            select(GcPayment)
            .where(
                GcPayment.installation_id == installation.id,
                GcPayment.invoice_id == invoice_id,
                GcPayment.id.not_in(ours),
            )
            .order_by(GcPayment.gc_created_at.desc())
        )
    ).all()
    for payment in earlier:
        known = standing_from_status(payment.status)
        if known is not None and known.standing == Standing.over:
            continue
        rows = await session.scalar(
            select(func.count())
            .select_from(InvoicePayment)
            .where(
                InvoicePayment.installation_id == installation.id,
                InvoicePayment.invoice_id == invoice_id,
            )
        )
        row = InvoicePayment(
            installation_id=installation.id,
            invoice_id=invoice_id,
            attempt=(rows or 0) + 1,
            # Never sent: the payment exists already.
            idempotency_key=idempotency_key(installation.id, invoice_id, "adopted", payment.id),
            mandate_id=payment.mandate_id or "",
            amount=payment.amount,
            currency=payment.currency,
            gc_payment_id=payment.id,
            state=InvoicePaymentState.live,
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            return None  # a concurrent request took the slot; the caller's insert will see it
        log.info("invoice.payment_adopted", invoice_id=invoice_id, payment_id=payment.id)
        return row
    return None


def _amount(invoice: Invoice) -> int:
    try:
        amount = to_minor_units(invoice.total, invoice.currency)
    except InvalidAmount as exc:
        raise InvalidInvoiceAmount(
            f"the invoice total {invoice.total} {invoice.currency} cannot be collected: {exc}"
        ) from None
    except MoneyError as exc:
        raise CurrencyMismatch(f"GoCardless does not collect {invoice.currency}: {exc}") from None
    if amount > MAX_DEBIT_MINOR_UNITS:
        raise InvalidInvoiceAmount(
            f"the invoice total {invoice.total} {invoice.currency} is more than a Direct Debit "
            "can collect in one payment"
        )
    return amount


async def _contacts_mandate(
    session: AsyncSession,
    installation_id: uuid.UUID,
    gc: GoCardlessClient,
    crm: ZohoCRM,
    *,
    contact: Contact,
    mandate_id: str,
) -> GcMandate:
    mandate = await session.get(GcMandate, (installation_id, mandate_id))
    if mandate is None:
        fetched_at = datetime.now(UTC)
        try:
            found = await gc.get_mandate(mandate_id)
        except GoCardlessNotFound:
            raise MandateNotFound(f"GoCardless has no mandate {mandate_id}") from None
        if (
            found.links.customer
            and await session.get(GcCustomer, (installation_id, found.links.customer)) is None
        ):
            customer = await gc.get_customer(found.links.customer)
            await store_customers(session, installation_id, [customer], fetched_at)
        await store_mandates(session, installation_id, [found], fetched_at)
        mandate = await session.get(GcMandate, (installation_id, mandate_id))
        assert mandate is not None
    owner = (
        await session.get(GcCustomer, (installation_id, mandate.customer_id))
        if mandate.customer_id
        else None
    )
    if owner is not None and owner.contact_id == contact.id:
        return mandate  # linked to this very contact: its email cannot change that
    contact = await with_email(crm, contact)
    customers = await contact_customers(session, installation_id, contact, crm)
    if mandate.customer_id not in {c.id for c in customers}:
        raise MandateNotFound(f"mandate {mandate_id} does not belong to this invoice's contact")
    return mandate


def _check_charge_date(charge_date: date | None, mandate: GcMandate, *, today: date) -> None:
    if charge_date is None:
        return
    if charge_date < today:
        raise ChargeDateNotAllowed(f"the charge date {charge_date} is in the past")
    earliest = mandate.next_possible_charge_date
    if earliest is not None and charge_date < earliest:
        raise ChargeDateNotAllowed(
            f"the earliest charge date this mandate allows is {earliest}",
            earliest_charge_date=earliest.isoformat(),
        )


async def _due_date_charge(
    session: AsyncSession,
    installation_id: uuid.UUID,
    gc: GoCardlessClient,
    invoice: Invoice,
    mandate: GcMandate,
    today: date,
) -> date | None:
    """The invoice's due date, when it is later than the earliest the mandate allows; else
    None (as soon as possible).

    The earliest date moves on every day, so it is read from GoCardless rather than the
    mirror: a stale one could let through a due date GoCardless then refuses.
    """
    due = invoice.due_date
    if due is None or due <= today:
        return None
    current = await gc.get_mandate(mandate.id)
    await store_mandates(session, installation_id, [current], datetime.now(UTC))
    earliest = current.next_possible_charge_date
    return due if earliest is None or due > earliest else None


async def _create_at_gocardless(
    gc: GoCardlessClient,
    row: InvoicePayment,
    invoice: Invoice,
    mandate: GcMandate,
    charge_date: date | None,
    org_id: str,
) -> Payment:
    number = invoice.number or invoice.id
    limit = REFERENCE_LIMITS.get(mandate.scheme or "")
    reference = number if limit and len(number) <= limit else None
    try:
        payment, created = await gc.create_payment(
            amount=row.amount,
            currency=row.currency,
            mandate_id=mandate.id,
            idempotency_key=row.idempotency_key,
            charge_date=charge_date,
            reference=reference,
            description=f"Invoice {number}"[:100],
            metadata={
                META_INVOICE_ID: invoice.id,
                META_ORG_ID: org_id,
                META_INVOICE_NUMBER: number[:500],
            },
        )
    except (GoCardlessInvalidState, GoCardlessValidationFailed) as exc:
        new_mandate_id = _replacement(exc)
        if new_mandate_id is not None:
            raise MandateReplaced(new_mandate_id) from None
        raise payment_refusal(
            exc,
            mandate_id=mandate.id,
            scheme=mandate.scheme,
            amount=row.amount,
            currency=row.currency,
        ) from None
    if not created:
        log.info("invoice.payment_recovered", payment_id=payment.id, key=row.idempotency_key)
    return payment


class MandateReplaced(Exception):
    def __init__(self, new_mandate_id: str) -> None:
        super().__init__(new_mandate_id)
        self.new_mandate_id = new_mandate_id


def _replacement(exc: GoCardlessError) -> str | None:
    """`mandate_replaced` names the new mandate in `links.new_mandate` (GoCardless support:
    "update your records to the ID included in the error response")."""
    for error in exc.errors:
        links = error.get("links")
        if error.get("reason") == "mandate_replaced" and isinstance(links, dict):
            new_id = links.get("new_mandate")
            if isinstance(new_id, str) and new_id:
                return new_id
    return None


async def payment_to_crm_now(
    session: AsyncSession,
    runtime: Runtime,
    crm: ZohoCRM,
    installation_id: uuid.UUID,
    payment_id: str,
) -> None:
    try:
        await push_now(session, runtime, crm, installation_id, [payment_id])
    except ZohoError as exc:
        log.warning("crm.push_now_failed", payment_id=payment_id, code=exc.code)


_NOT_CANCELLABLE = {
    "pending_customer_approval": "it is waiting for the customer's approval",
    "submitted": "it was already submitted to the bank for collection on {charge_date}",
    "confirmed": "the money was already collected on {charge_date}",
    "paid_out": "the money was already collected on {charge_date} and paid out to you",
    "cancelled": "it is already cancelled",
    "failed": "the collection already failed",
    "charged_back": "the customer charged it back",
    "customer_approval_denied": "the customer refused it",
}


def not_cancellable(payment: Payment) -> PaymentNotCancellable:
    reason = _NOT_CANCELLABLE.get(payment.status, "its status is {status}").format(
        charge_date=payment.charge_date or "its charge date",
        status=payment.status.replace("_", " "),
    )
    return PaymentNotCancellable(
        f"Payment {payment.id} can no longer be cancelled: {reason}.", payment_status=payment.status
    )


async def live_payment(
    session: AsyncSession, runtime: Runtime, installation: Installation, payment_id: str
) -> tuple[GoCardlessClient, GcPayment, Payment]:
    """The organisation's payment as the mirror knows it and as GoCardless says it is now.

    The mirror only proves the payment is this installation's; it may be stale, so whether
    the payment can still be cancelled or retried is judged on GoCardless's answer.
    """
    connection = await require_gocardless(session, runtime, installation)
    known = await session.get(GcPayment, (installation.id, payment_id))
    if known is None:
        raise NotFound(f"no GoCardless payment {payment_id} in this organisation")
    gc = gocardless_client(runtime, connection)
    return gc, known, await gc.get_payment(payment_id)


async def cancel_invoice_payment(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    zoho: ZohoConnection,
    user_id: str | None,
    payment_id: str,
) -> PaymentOut:
    gc, _, current = await live_payment(session, runtime, installation, payment_id)
    fetched_at = datetime.now(UTC)
    if current.status != "pending_submission":
        await store_payments(
            session, installation.id, [current], fetched_at, zoho_org_id=installation.zoho_org_id
        )
        # Kept although the request fails: the popup should show what GoCardless just said.
        raise not_cancellable(current).keeping_changes()
    try:
        cancelled = await gc.cancel_payment(
            payment_id, metadata={"cancelled_by_zoho_user": user_id or API_KEY_ACTOR}
        )
    except GoCardlessInvalidState:
        raise not_cancellable(await gc.get_payment(payment_id)) from None
    except GoCardlessError:
        raise
    await store_payments(
        session,
        installation.id,
        [cancelled],
        datetime.now(UTC),
        zoho_org_id=installation.zoho_org_id,
    )
    row = await session.scalar(
        select(InvoicePayment).where(
            InvoicePayment.installation_id == installation.id,
            InvoicePayment.gc_payment_id == payment_id,
            InvoicePayment.state == InvoicePaymentState.live.value,
        )
    )
    if row is not None:
        row.state = InvoicePaymentState.closed
    await session.flush()
    log.info(
        "invoice.payment_cancelled", installation_id=str(installation.id), payment_id=payment_id
    )
    await payment_to_crm_now(session, runtime, zoho_crm(runtime, zoho), installation.id, payment_id)
    stored = await session.get(GcPayment, (installation.id, payment_id), populate_existing=True)
    assert stored is not None
    return payment_out(stored)
