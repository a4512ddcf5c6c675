"""When a customer completes (or GoCardless cancels) a mandate request we sent."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.errors import GoCardlessError
from app.adapters.zoho.errors import ZohoError
from app.errors import AppError, NotFound
from app.log import get_logger
from app.models import (
    Installation,
    MandateRequest,
    MandateRequestStatus,
    ZohoConnection,
)
from app.money import MoneyError, to_minor_units
from app.runtime import Runtime
from app.services.installations import zoho_usable
from app.services.invoice_payments import create_invoice_payment
from app.services.invoices import Invoice, read_org_invoice
from app.services.providers import zoho_crm

log = get_logger("app.services.mandate_fulfilment")

# Invoice statuses that say "do not collect" (Zoho's standard picklist, any case).
CLOSED_INVOICE_STATUSES = frozenset({"cancelled", "void", "paid"})


async def mandate_request_fulfilled(
    runtime: Runtime,
    installation: Installation,
    billing_request_id: str,
    *,
    customer_id: str | None,
    mandate_id: str,
) -> None:
    """Mark the request fulfilled and, if the installation wants it, collect the invoice.

    One transaction: a transient provider failure rolls both back and the event is retried.
    """
    async with runtime.sessionmaker() as session, session.begin():
        request = await session.scalar(
            select(MandateRequest)
            .where(
                MandateRequest.installation_id == installation.id,
                MandateRequest.billing_request_id == billing_request_id,
            )
            .with_for_update()
        )
        if request is None or request.status == MandateRequestStatus.fulfilled:
            return
        request.status = MandateRequestStatus.fulfilled
        request.mandate_id = mandate_id
        request.customer_id = customer_id
        await session.flush()
        log.info(
            "mandate_request.fulfilled",
            installation_id=str(installation.id),
            invoice_id=request.invoice_id,
            mandate_id=mandate_id,
        )
        if installation.auto_collect_on_mandate:
            await _collect(session, runtime, installation, request, mandate_id)


def _not_to_collect(request: MandateRequest, invoice: Invoice | None) -> str | None:
    if invoice is None:
        return "the invoice was deleted"
    if (invoice.status or "").lower() in CLOSED_INVOICE_STATUSES:
        return f"the invoice is {invoice.status}"
    try:
        amount = to_minor_units(invoice.total, invoice.currency)
    except MoneyError:
        return "the invoice total cannot be collected"
    if (amount, invoice.currency) != (request.amount, request.currency):
        return (
            f"the invoice changed to {invoice.total} {invoice.currency} after the setup link "
            "was sent"
        )
    return None


async def mandate_request_closed(
    runtime: Runtime,
    installation: Installation,
    billing_request_id: str,
    status: MandateRequestStatus,
) -> None:
    """A pending request GoCardless cancelled or failed, or whose page the payer left: the
    popup stops showing it as waiting, and a re-send does not email its link as it stands."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(MandateRequest)
            .where(
                MandateRequest.installation_id == installation.id,
                MandateRequest.billing_request_id == billing_request_id,
                MandateRequest.status == MandateRequestStatus.pending.value,
            )
            .values(status=status.value)
        )


async def _collect(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    request: MandateRequest,
    mandate_id: str,
) -> None:
    zoho = await session.get(ZohoConnection, installation.id)
    if zoho is None or not zoho_usable(zoho):
        log.warning("mandate_request.auto_collect_skipped", reason="Zoho CRM is not connected")
        return
    try:
        invoice = await read_org_invoice(
            session, zoho_crm(runtime, zoho, priority="background"), zoho, request.invoice_id
        )
    except NotFound:
        invoice = None
    reason = _not_to_collect(request, invoice)
    if reason is not None:
        # The customer set up a mandate for what the email said; the invoice says otherwise now.
        log.warning(
            "mandate_request.auto_collect_skipped", invoice_id=request.invoice_id, reason=reason
        )
        return
    try:
        async with session.begin_nested():
            result = await create_invoice_payment(
                session,
                runtime,
                installation,
                zoho,
                request.requested_by_user or "",
                invoice_id=request.invoice_id,
                mandate_id=mandate_id,
                charge_date=None,
            )
    except (GoCardlessError, ZohoError) as exc:
        if exc.transient:
            raise
        log.warning(
            "mandate_request.auto_collect_failed", invoice_id=request.invoice_id, error=str(exc)
        )
        return
    except AppError as exc:
        # The mandate is set up either way; the user can still collect from the popup.
        log.warning(
            "mandate_request.auto_collect_failed", invoice_id=request.invoice_id, error=exc.detail
        )
        return
    log.info(
        "mandate_request.auto_collected",
        invoice_id=request.invoice_id,
        payment_id=result.payment.id,
        created=result.created,
    )
