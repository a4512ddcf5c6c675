"""Reading a Zoho invoice and finding its contact's GoCardless customers and mandates.

Served from our mirror so the popup opens fast; GoCardless is asked only when the mirror knows
the customer but none of its mandates.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.names import CONTACTS, INVOICES
from app.errors import AppError, NotFound
from app.models import GcCustomer, GcMandate, GcPayment, MandateRequest, MandateRequestStatus
from app.money import MoneyError, currency_exponent
from app.schemas.invoices import MandateOut, MandateRequestOut, PaymentOut
from app.services.mirror import store_mandates

# GoCardless accepts new payments against mandates in these statuses (API-FACTS §9).
USABLE_MANDATE_STATUSES = frozenset(
    {"pending_customer_approval", "pending_submission", "submitted", "active"}
)
INVOICE_FIELDS = ("Invoice_Number", "Subject", "Grand_Total", "Currency", "Contact_Name")


class InvoiceHasNoContact(AppError):
    status, code, title = 422, "invoice_has_no_contact", "The invoice has no contact"


class InvoiceNotReadable(AppError):
    status, code, title = 422, "invoice_not_payable", "The invoice cannot be collected"


@dataclass(frozen=True)
class Contact:
    id: str
    name: str | None
    email: str | None


@dataclass(frozen=True)
class Invoice:
    id: str
    number: str | None
    total: Decimal
    currency: str
    contact: Contact | None


async def read_invoice(crm: ZohoCRM, invoice_id: str, *, org_currency: str | None) -> Invoice:
    record = await crm.get_record(INVOICES, invoice_id, INVOICE_FIELDS)
    if record is None:
        raise NotFound(f"Zoho CRM has no invoice {invoice_id}")
    contact = None
    lookup = record.get("Contact_Name")
    if isinstance(lookup, dict) and lookup.get("id"):
        details = await crm.get_record(CONTACTS, str(lookup["id"]), ("Email", "Full_Name"))
        email = (details or {}).get("Email")
        contact = Contact(
            id=str(lookup["id"]),
            name=str(lookup.get("name") or (details or {}).get("Full_Name") or "") or None,
            email=str(email).strip() if email else None,
        )
    total = record.get("Grand_Total")
    try:
        amount = Decimal(str(total)) if total is not None else None
    except InvalidOperation:
        amount = None
    if amount is None:
        raise InvoiceNotReadable("the invoice has no grand total")
    # With multi-currency off, Zoho leaves Currency out: the org's home currency applies.
    currency = str(record.get("Currency") or org_currency or "").upper()
    if len(currency) != 3:
        raise InvoiceNotReadable("the invoice has no currency")
    return Invoice(
        id=invoice_id,
        number=str(record.get("Invoice_Number") or "") or None,
        total=amount,
        currency=currency,
        contact=contact,
    )


def decimal_string(amount: Decimal, currency: str) -> str:
    """The amount with as many decimals as the currency has (120.5 GBP → "120.50")."""
    try:
        quantum = Decimal(1).scaleb(-currency_exponent(currency))
    except MoneyError:
        return str(amount)
    quantized = amount.quantize(quantum)
    # More decimals than the currency has stay visible: collecting it is refused elsewhere.
    return str(quantized) if quantized == amount else str(amount)


def require_contact(invoice: Invoice) -> Contact:
    if invoice.contact is None:
        raise InvoiceHasNoContact(
            "choose the invoice's contact first: GoCardless collects from a contact's mandate"
        )
    return invoice.contact


async def contact_customers(
    session: AsyncSession, installation_id: uuid.UUID, contact: Contact
) -> list[GcCustomer]:
    """The contact's GoCardless customers: linked ones first, then by email."""
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
    mandates = list((await session.scalars(query.order_by(GcMandate.gc_created_at.desc()))).all())
    if mandates or gc is None:
        return mandates
    # The mirror knows the customer but no mandate (e.g. before Sync Now): ask GoCardless.
    for customer_id in ids:
        fetched_at = datetime.now(UTC)
        page = await gc.list_mandates_page(None, customer=customer_id)
        await store_mandates(session, installation_id, page.items, fetched_at)
    return list((await session.scalars(query.order_by(GcMandate.gc_created_at.desc()))).all())


def mandate_out(mandate: GcMandate, invoice_currency: str) -> MandateOut:
    """Usable: it can take payments, and in the invoice's currency (the contract's rule), so
    the widget can say so before anyone clicks Proceed."""
    return MandateOut(
        id=mandate.id,
        scheme=mandate.scheme,
        currency=mandate.currency,
        status=mandate.status,
        reference=mandate.reference,
        usable=mandate.status in USABLE_MANDATE_STATUSES and mandate.currency == invoice_currency,
        next_possible_charge_date=mandate.next_possible_charge_date,
    )


def payment_out(payment: GcPayment) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        charge_date=payment.charge_date,
        mandate_id=payment.mandate_id,
        invoice_id=payment.invoice_id,
        reference=payment.reference,
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
    if request is None:
        return None
    return MandateRequestOut(
        id=request.id,
        authorisation_url=request.authorisation_url,
        email_sent_to=request.email,
        status=request.status,
    )
