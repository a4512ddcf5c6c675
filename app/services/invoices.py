"""Reading a Zoho invoice and finding its contact's GoCardless customers and mandates.

Served from our mirror so the popup opens fast; GoCardless is asked only when the mirror knows
the customer but none of its mandates.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import GoCardlessNotFound
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.names import CONTACTS, INVOICES
from app.errors import AppError, NotFound
from app.models import (
    GcCustomer,
    GcMandate,
    GcPayment,
    InvoicePayment,
    InvoicePaymentState,
    MandateRequest,
    MandateRequestStatus,
    SyncRun,
    SyncState,
    ZohoConnection,
)
from app.money import MoneyError, currency_exponent
from app.schemas.invoices import MandateOut, MandateRequestOut, PayerOut, PaymentOut
from app.services.mirror import store_mandates
from app.services.payment_standing import Standing, Verdict, standing_from_status, verdict

# GoCardless accepts new payments against mandates in these statuses (API-FACTS §9).
USABLE_MANDATE_STATUSES = frozenset(
    {"pending_customer_approval", "pending_submission", "submitted", "active"}
)


class InvoiceHasNoContact(AppError):
    status, code, title = 422, "invoice_has_no_contact", "The invoice has no contact"


class InvoiceNotReadable(AppError):
    status, code, title = 422, "invoice_not_payable", "The invoice cannot be collected"


class SyncNotDone(AppError):
    status, code, title = 409, "sync_not_done", "Run Sync Now first"


async def require_synced(session: AsyncSession, installation_id: uuid.UUID) -> None:
    """Invoice flows wait for Sync Now (see README): before it, the mirror holds too little.

    GoCardless cannot find customers by email, so a contact's existing mandates are found
    only among the customers Sync Now copied; and only after it do payments' changes reach
    the CRM. Collecting before then would send duplicate setup links and leave CRM records
    frozen at their first status.
    """
    run = await session.get(SyncRun, installation_id)
    if run is not None and run.state == SyncState.succeeded.value:
        return
    if run is not None and run.state == SyncState.running.value:
        raise SyncNotDone(
            "Sync Now is still copying your GoCardless customers and payments; invoices can "
            "be collected as soon as it has finished.",
            sync_state=run.state,
        )
    raise SyncNotDone(
        "Run Sync Now in the extension's settings first: until your GoCardless customers are "
        "copied, an invoice's existing mandates cannot be found and payments would not be "
        "kept up to date in the CRM.",
        sync_state=run.state if run is not None else "not_started",
    )


@dataclass(frozen=True)
class Contact:
    id: str
    name: str | None
    email: str | None
    # False when only the invoice's lookup was read (its id and name): see `with_email`.
    email_read: bool = True


@dataclass(frozen=True)
class Invoice:
    id: str
    number: str | None
    total: Decimal
    currency: str
    contact: Contact | None
    due_date: date | None = None
    status: str | None = None
    owner_id: str | None = None


async def home_currency(session: AsyncSession, crm: ZohoCRM, zoho: ZohoConnection) -> str | None:
    """The org's home currency, stored at authorization; read once for older connections."""
    if zoho.home_currency:
        return zoho.home_currency
    iso_code = (await crm.get_org()).iso_code
    if iso_code:
        await session.execute(
            update(ZohoConnection)
            .where(ZohoConnection.installation_id == zoho.installation_id)
            .values(home_currency=iso_code)
        )
    return iso_code


async def read_org_invoice(
    session: AsyncSession,
    crm: ZohoCRM,
    zoho: ZohoConnection,
    invoice_id: str,
    *,
    contact_email: bool = True,
) -> Invoice:
    """The invoice, its currency taken from the org when the org has no multi-currency.

    Without `contact_email` the contact is the invoice's lookup alone (one Zoho call fewer):
    for a caller that reads the email only if the mirror's links do not settle its question.
    """
    return await read_invoice(
        crm,
        invoice_id,
        org_currency=lambda: home_currency(session, crm, zoho),
        contact_email=contact_email,
    )


async def read_invoice(
    crm: ZohoCRM,
    invoice_id: str,
    *,
    org_currency: Callable[[], Awaitable[str | None]],
    contact_email: bool = True,
) -> Invoice:
    # Every field: an org without multi-currency has no Currency field to ask for by name.
    record = await crm.get_record(INVOICES, invoice_id)
    if record is None:
        raise NotFound(f"Zoho CRM has no invoice {invoice_id}")
    contact = None
    lookup = record.get("Contact_Name")
    if isinstance(lookup, dict) and lookup.get("id"):
        contact = Contact(
            id=str(lookup["id"]),
            name=str(lookup.get("name") or "") or None,
            email=None,
            email_read=False,
        )
        if contact_email:
            contact = await with_email(crm, contact)
    total = record.get("Grand_Total")
    try:
        amount = Decimal(str(total)) if total is not None else None
    except InvalidOperation:
        amount = None
    if amount is None:
        raise InvoiceNotReadable("the invoice has no grand total")
    # With multi-currency off, Zoho leaves Currency out: the org's home currency applies.
    currency = str(record.get("Currency") or await org_currency() or "").upper()
    if len(currency) != 3:
        raise InvoiceNotReadable("the invoice has no currency, and the org names none")
    owner = record.get("Owner")
    return Invoice(
        id=invoice_id,
        number=str(record.get("Invoice_Number") or "") or None,
        total=amount,
        currency=currency,
        contact=contact,
        due_date=_date(record.get("Due_Date")),
        status=str(record["Status"]) if record.get("Status") else None,
        owner_id=str(owner["id"]) if isinstance(owner, dict) and owner.get("id") else None,
    )


async def _email_shared(crm: ZohoCRM, email: str) -> bool:
    matches = {
        str(c["id"])
        for c in await crm.search_by_email(CONTACTS, email)
        if str(c.get("Email") or "").strip().lower() == email.lower()
    }
    return len(matches) > 1


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def decimal_string(amount: Decimal, currency: str) -> str:
    """The amount with as many decimals as the currency has (120.5 GBP → "120.50")."""
    try:
        quantum = Decimal(1).scaleb(-currency_exponent(currency))
    except MoneyError:
        return str(amount)
    quantized = amount.quantize(quantum)
    # More decimals than the currency has stay visible: collecting it is refused elsewhere.
    return str(quantized) if quantized == amount else str(amount)


async def with_email(crm: ZohoCRM, contact: Contact) -> Contact:
    """The contact with its email (and its full name when the lookup had none)."""
    if contact.email_read:
        return contact
    details = await crm.get_record(CONTACTS, contact.id, ("Email", "Full_Name"))
    return Contact(
        id=contact.id,
        name=contact.name or str((details or {}).get("Full_Name") or "") or None,
        email=str((details or {}).get("Email") or "").strip() or None,
    )


def require_contact(invoice: Invoice) -> Contact:
    if invoice.contact is None:
        raise InvoiceHasNoContact(
            "choose the invoice's contact first: GoCardless collects from a contact's mandate"
        )
    return invoice.contact


async def contact_customers(
    session: AsyncSession, installation_id: uuid.UUID, contact: Contact, crm: ZohoCRM
) -> list[GcCustomer]:
    """The contact's GoCardless customers: linked ones first, then by email when no other
    Contact has that email."""
    conditions = [GcCustomer.contact_id == contact.id]
    if contact.email:
        conditions.append(GcCustomer.email_normalized == contact.email.lower())
    customers = (
        await session.scalars(
            select(GcCustomer)
            .where(GcCustomer.installation_id == installation_id, or_(*conditions))
            .order_by(GcCustomer.gc_created_at.desc())
        )
    ).all()
    linked = [c for c in customers if c.contact_id == contact.id]
    # A customer linked to another contact is that contact's, even if the email matches.
    by_email = [c for c in customers if c.contact_id is None]
    # Another Contact with the same email could own them as well: then only customers
    # linked to this Contact are its own. Zoho is asked only when there is such a customer
    # (after Sync Now linked every unambiguous one, seldom): a search per popup was a third
    # of its Zoho calls.
    if by_email and contact.email and await _email_shared(crm, contact.email):
        by_email = []
    return linked + by_email


async def customer_mandates(
    session: AsyncSession,
    installation_id: uuid.UUID,
    customers: list[GcCustomer],
    gc: GoCardlessClient | None,
) -> list[GcMandate]:
    ids = [c.id for c in customers]
    if not ids:
        return []
    query = select(GcMandate).where(
        GcMandate.installation_id == installation_id, GcMandate.customer_id.in_(ids)
    )
    ordered = query.order_by(GcMandate.gc_created_at.desc())
    mandates = list((await session.scalars(ordered)).all())
    if gc is not None and not mandates:
        # The mirror knows the customer but no mandate (e.g. before Sync Now): ask GoCardless.
        for customer_id in ids:
            fetched_at = datetime.now(UTC)
            page = await gc.list_mandates_page(None, customer=customer_id)
            await store_mandates(session, installation_id, page.items, fetched_at)
        mandates = list((await session.scalars(ordered)).all())
    if gc is not None:
        for mandate in [m for m in mandates if m.new_mandate_id]:
            await follow_replacements(session, installation_id, gc, mandate)
        mandates = list((await session.scalars(ordered)).all())
    # A replaced mandate takes no payments; its replacement is listed in its place.
    return [m for m in mandates if m.new_mandate_id is None]


# More replacements of one mandate than any creditor's scheme identifier changes.
MAX_REPLACEMENTS = 5


async def follow_replacements(
    session: AsyncSession,
    installation_id: uuid.UUID,
    gc: GoCardlessClient,
    mandate: GcMandate,
    new_mandate_id: str | None = None,
) -> GcMandate:
    """The mandate that replaced `mandate` (GoCardless's `links.new_mandate`), following the
    chain to its end and reading from GoCardless what the mirror does not know yet.

    `new_mandate_id` is a replacement GoCardless named before the mirror learnt of it (an
    error answering a payment create): the old mandate is read again to record it.
    """
    if new_mandate_id is not None and mandate.new_mandate_id is None:
        await store_mandates(
            session, installation_id, [await gc.get_mandate(mandate.id)], datetime.now(UTC)
        )
        await session.refresh(mandate)
        if mandate.new_mandate_id is None:
            mandate.new_mandate_id = new_mandate_id
    for _ in range(MAX_REPLACEMENTS):
        if mandate.new_mandate_id is None:
            return mandate
        successor = await session.get(GcMandate, (installation_id, mandate.new_mandate_id))
        if successor is None:
            await store_mandates(
                session,
                installation_id,
                [await gc.get_mandate(mandate.new_mandate_id)],
                datetime.now(UTC),
            )
            successor = await session.get(GcMandate, (installation_id, mandate.new_mandate_id))
            assert successor is not None
        mandate = successor
    return mandate


async def read_bank_accounts(
    session: AsyncSession,
    gc: GoCardlessClient,
    installation_id: uuid.UUID,
    mandates: list[GcMandate],
) -> None:
    """Fill in the bank details of mandates shown for the first time (one read each)."""
    for mandate in mandates:
        if mandate.customer_bank_account_id is None or mandate.bank_name is not None:
            continue
        try:
            account = await gc.get_customer_bank_account(mandate.customer_bank_account_id)
        except GoCardlessNotFound:
            continue
        mandate.bank_name = account.bank_name or ""
        mandate.account_number_ending = account.account_number_ending
        mandate.account_holder_name = account.account_holder_name
    await session.flush()


def payer_out(mandate: GcMandate, customer: GcCustomer | None) -> PayerOut:
    person = (
        " ".join(p for p in (customer.given_name, customer.family_name) if p) if customer else ""
    )
    return PayerOut(
        name=(customer.company_name or person or customer.email) if customer else None,
        bank_name=mandate.bank_name or None,
        account_number_ending=mandate.account_number_ending,
        account_holder_name=mandate.account_holder_name,
    )


def mandate_out(
    mandate: GcMandate, currency: str, customer: GcCustomer | None = None
) -> MandateOut:
    """`usable`: it can take payments now and collects the invoice's currency."""
    return MandateOut(
        id=mandate.id,
        scheme=mandate.scheme,
        currency=mandate.currency,
        status=mandate.status,
        reference=mandate.reference,
        usable=mandate.status in USABLE_MANDATE_STATUSES and mandate.currency == currency,
        next_possible_charge_date=mandate.next_possible_charge_date,
        payer=payer_out(mandate, customer),
    )


def payment_out(payment: GcPayment, judged: Verdict | None = None) -> PaymentOut:
    """The payment as the widget sees it; a failed one's standing needs `judged` (GoCardless)."""
    judged = judged or standing_from_status(payment.status)
    return PaymentOut(
        id=payment.id,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        charge_date=payment.charge_date,
        mandate_id=payment.mandate_id,
        invoice_id=payment.invoice_id,
        reference=payment.reference,
        standing=judged.standing.value if judged else None,
        standing_reason=judged.reason if judged else None,
        amount_refunded=payment.amount_refunded or 0,
    )


async def invoice_payments(
    session: AsyncSession, installation_id: uuid.UUID, invoice_id: str
) -> list[GcPayment]:
    return list(
        (
            await session.scalars(
                select(GcPayment)
                .where(
                    GcPayment.installation_id == installation_id,
                    GcPayment.invoice_id == invoice_id,
                )
                .order_by(GcPayment.gc_created_at.desc())
            )
        ).all()
    )


async def invoice_payments_standing(
    session: AsyncSession, gc: GoCardlessClient, installation_id: uuid.UUID, invoice_id: str
) -> list[PaymentOut]:
    """The invoice's payments, each with what it still means for the invoice.

    Only the payment that holds the invoice and has failed is judged by GoCardless (its
    events and mandate); the others' statuses say enough.
    """
    payments = await invoice_payments(session, installation_id, invoice_id)
    live = await session.scalar(
        select(InvoicePayment.gc_payment_id).where(
            InvoicePayment.installation_id == installation_id,
            InvoicePayment.invoice_id == invoice_id,
            InvoicePayment.state == InvoicePaymentState.live.value,
        )
    )
    shown = []
    for payment in payments:
        judged = standing_from_status(payment.status)
        if judged is None:
            if payment.id == live:
                judged = await verdict(gc, await gc.get_payment(payment.id))
            else:
                judged = Verdict(Standing.over, "the payment failed; a newer one took its place")
        shown.append(payment_out(payment, judged))
    return shown


async def pending_mandate_request(
    session: AsyncSession, installation_id: uuid.UUID, invoice_id: str
) -> MandateRequestOut | None:
    request = await session.scalar(
        select(MandateRequest).where(
            MandateRequest.installation_id == installation_id,
            MandateRequest.invoice_id == invoice_id,
            MandateRequest.status == MandateRequestStatus.pending.value,
        )
    )
    return mandate_request_out(request) if request is not None else None


def mandate_request_out(request: MandateRequest) -> MandateRequestOut:
    return MandateRequestOut(
        id=request.id,
        authorisation_url=request.authorisation_url,
        email_sent_to=request.email,
        status=request.status,
        expires_at=request.flow_expires_at,
    )
