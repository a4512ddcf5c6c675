"""No usable mandate: email the contact a GoCardless link to set one up.

A mandate-only Billing Request (in the invoice's currency, linked to the contact's existing
GoCardless customer if any, metadata pointing back to our org, contact and invoice) and a
hosted flow; the link goes out through the CRM's send-mail action on the Contact, from the
requesting user, so it shows in the contact's history. Asking again re-sends the link of
the request still open at GoCardless, renewed (a fresh flow) when it is about to expire or
the payer left the page, or makes a new request once GoCardless gave the old one up; never a
dead link. All within the throttle (services/setup_email_throttle.py).
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoError
from app.adapters.zoho.models import MailAddress
from app.adapters.zoho.names import CONTACTS
from app.errors import AppError, ProviderError
from app.log import get_logger
from app.models import (
    GoCardlessConnection,
    Installation,
    MandateRequest,
    MandateRequestStatus,
    ZohoConnection,
)
from app.money import MoneyError, format_money, to_minor_units
from app.runtime import Runtime
from app.schemas.invoices import MandateRequestOut
from app.services.installations import require_gocardless
from app.services.invoices import (
    Contact,
    Invoice,
    contact_customers,
    mandate_request_out,
    read_org_invoice,
    require_contact,
    require_synced,
)
from app.services.mirror import META_INVOICE_ID, META_ORG_ID
from app.services.providers import gocardless_client, idempotency_key, zoho_crm
from app.services.setup_email_throttle import reserve_setup_email

log = get_logger("app.services.mandate_requests")

META_CONTACT_ID = "zoho_contact_id"
# Re-issue a flow that would expire before the customer is likely to open the mail.
FLOW_RENEWAL_MARGIN = timedelta(days=1)


class ContactHasNoEmail(AppError):
    status, code, title = 422, "contact_has_no_email", "The contact has no email address"


class MandateAlreadySetUp(AppError):
    status, code, title = (
        409,
        "mandate_request_fulfilled",
        "The customer has already completed the setup",
    )


async def request_mandate(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    zoho: ZohoConnection,
    user_id: str | None,
    invoice_id: str,
) -> MandateRequestOut:
    connection = await require_gocardless(session, runtime, installation)
    await require_synced(session, installation.id)
    gc = gocardless_client(runtime, connection)
    crm = zoho_crm(runtime, zoho)
    invoice = await read_org_invoice(session, crm, zoho, invoice_id)
    contact = require_contact(invoice)
    if not contact.email:
        raise ContactHasNoEmail(
            f"{contact.name or 'The contact'} has no email address in Zoho CRM; add one so the "
            "setup link can be sent"
        )
    await reserve_setup_email(session, runtime, installation.id, invoice_id)
    request = await _open_request(session, gc, installation, invoice_id)
    if request is None:
        request = await _new_request(
            session, runtime, installation, gc, crm, invoice, contact, user_id
        )
    elif request.status == MandateRequestStatus.exited or _flow_expiring(request, runtime.clock()):
        # Never email a link that no longer works: a new flow for the same request.
        request.status = MandateRequestStatus.pending
        await _renew_flow(runtime, gc, installation, request, contact)
    request.email = contact.email
    # What this email asks for: auto-collect takes exactly this, or nothing.
    request.amount = _minor_units(invoice)
    request.currency = invoice.currency
    await _send_link(crm, connection, user_id, invoice, contact, request.authorisation_url)
    request.emails_sent += 1
    await session.flush()
    log.info(
        "mandate_request.sent",
        installation_id=str(installation.id),
        invoice_id=invoice_id,
        billing_request_id=request.billing_request_id,
        emails_sent=request.emails_sent,
    )
    return mandate_request_out(request)


# Billing request statuses in which the payer can still complete it (API-FACTS §12).
_OPEN_AT_GOCARDLESS = frozenset({"pending", "ready_to_fulfil"})


async def _open_request(
    session: AsyncSession, gc: GoCardlessClient, installation: Installation, invoice_id: str
) -> MandateRequest | None:
    """The invoice's request a re-send may reuse: pending, or left by the payer; None when
    there is none or GoCardless says it can no longer be completed (then it is closed here,
    even if the event saying so has not been processed yet)."""
    request = await session.scalar(
        select(MandateRequest)
        .where(
            MandateRequest.installation_id == installation.id,
            MandateRequest.invoice_id == invoice_id,
            MandateRequest.status.in_(
                [MandateRequestStatus.pending.value, MandateRequestStatus.exited.value]
            ),
        )
        .order_by(
            (MandateRequest.status == MandateRequestStatus.pending.value).desc(),
            MandateRequest.created_at.desc(),
        )
        .limit(1)
        .with_for_update()
    )
    if request is None:
        return None
    current = await gc.get_billing_request(request.billing_request_id)
    if current.status in _OPEN_AT_GOCARDLESS:
        return request
    if current.status == "fulfilled":
        raise MandateAlreadySetUp(
            "The customer has just completed the setup link; choose Check again to see the "
            "new mandate.",
            billing_request_id=current.id,
        )
    request.status = MandateRequestStatus.cancelled
    await session.flush()
    return None


def _minor_units(invoice: Invoice) -> int | None:
    try:
        return to_minor_units(invoice.total, invoice.currency)
    except MoneyError:
        return None


async def _new_request(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    gc: GoCardlessClient,
    crm: ZohoCRM,
    invoice: Invoice,
    contact: Contact,
    user_id: str | None,
) -> MandateRequest:
    previous = await session.scalar(
        select(func.count())
        .select_from(MandateRequest)
        .where(
            MandateRequest.installation_id == installation.id,
            MandateRequest.invoice_id == invoice.id,
        )
    )
    key = idempotency_key(installation.id, invoice.id, "mandate-request", (previous or 0) + 1)
    customers = await contact_customers(session, installation.id, contact, crm)
    billing_request, _ = await gc.create_billing_request(
        currency=invoice.currency,
        customer_id=customers[0].id if customers else None,
        idempotency_key=key,
        description=f"Direct Debit for invoice {invoice.number or invoice.id}"[:100],
        metadata={
            META_CONTACT_ID: contact.id,
            META_INVOICE_ID: invoice.id,
            META_ORG_ID: installation.zoho_org_id,
        },
    )
    request = MandateRequest(
        installation_id=installation.id,
        invoice_id=invoice.id,
        contact_id=contact.id,
        email=contact.email or "",
        currency=invoice.currency,
        billing_request_id=billing_request.id,
        flows_created=0,
        status=MandateRequestStatus.pending,
        emails_sent=0,
        requested_by_user=user_id,
    )
    await _renew_flow(runtime, gc, installation, request, contact)
    try:
        async with session.begin_nested():
            session.add(request)
            await session.flush()
    except IntegrityError:
        # A concurrent request for this invoice won; GoCardless gave us both the same objects.
        existing = await session.scalar(
            select(MandateRequest).where(
                MandateRequest.installation_id == installation.id,
                MandateRequest.invoice_id == invoice.id,
                MandateRequest.status == MandateRequestStatus.pending.value,
            )
        )
        if existing is None:
            raise
        return existing
    return request


def _flow_expiring(request: MandateRequest, now: datetime) -> bool:
    expires = request.flow_expires_at
    return expires is not None and expires - FLOW_RENEWAL_MARGIN <= now


async def _renew_flow(
    runtime: Runtime,
    gc: GoCardlessClient,
    installation: Installation,
    request: MandateRequest,
    contact: Contact,
) -> None:
    done = f"{runtime.settings.public_base_url}/mandate-setup/complete"
    given, _, family = (contact.name or "").partition(" ")
    prefilled = {"email": contact.email or ""}
    if given and family:
        prefilled |= {"given_name": given, "family_name": family}
    flow, _ = await gc.create_billing_request_flow(
        billing_request_id=request.billing_request_id,
        redirect_uri=done,
        exit_uri=f"{done}?exited=1",
        idempotency_key=idempotency_key(
            installation.id, "br", request.billing_request_id, "flow", request.flows_created + 1
        ),
        prefilled_customer=prefilled,
    )
    request.flow_id = flow.id
    request.authorisation_url = flow.authorisation_url
    request.flow_expires_at = flow.expires_at
    request.flows_created += 1


# Inline, as mail clients drop style sheets: the link looks and works like a button.
_BUTTON_STYLE = (
    "display:inline-block;padding:10px 18px;background:#1d6fb8;color:#ffffff;"
    "border-radius:4px;text-decoration:none;font-weight:600"
)


async def _send_link(
    crm: ZohoCRM,
    connection: GoCardlessConnection,
    user_id: str | None,
    invoice: Invoice,
    contact: Contact,
    link: str,
) -> None:
    merchant = connection.creditor_name or "us"
    number = invoice.number or invoice.id
    amount = format_money(invoice.total, invoice.currency)
    subject = f"Set up a Direct Debit to pay invoice {number}"
    href = html.escape(link, quote=True)
    content = (
        f"<p>Hello {html.escape(contact.name or '')},</p>"
        f"<p>{html.escape(merchant)} would like to collect invoice "
        f"<strong>{html.escape(number)}</strong> for <strong>{html.escape(amount)}</strong> "
        "by Direct Debit through GoCardless.</p>"
        f'<p><a href="{href}" style="{_BUTTON_STYLE}">Set up your Direct Debit</a></p>'
        "<p>It takes about two minutes; your bank details go to GoCardless, not to us.</p>"
        "<p>If the button does not work, copy this address into your browser:<br>"
        f'<a href="{href}">{html.escape(link)}</a></p>'
        f"<p>Thank you,<br>{html.escape(merchant)}</p>"
    )
    try:
        sender = await _sender(crm, user_id)
        await crm.send_mail(
            CONTACTS,
            contact.id,
            from_address=sender,
            to=[MailAddress(email=contact.email or "", user_name=contact.name)],
            subject=subject,
            content=content,
        )
    except ZohoError as exc:
        raise ProviderError(
            f"the setup link could not be emailed through Zoho CRM ({exc.code}); try again"
        ) from None


async def _sender(crm: ZohoCRM, user_id: str | None) -> MailAddress:
    """The requesting user's own address if the CRM lets them send from it, else the default
    (also when the API key asks: no user then)."""
    user = await crm.get_user(user_id) if user_id else None
    allowed = await crm.from_addresses()
    if user is not None and user.email:
        for address in allowed:
            if address.email.lower() == user.email.lower():
                return address
    for address in allowed:
        if address.default:
            return address
    if allowed:
        return allowed[0]
    raise ZohoError("NO_FROM_ADDRESS", "the CRM user has no address to send mail from")
