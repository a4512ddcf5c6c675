"""Send Invoice / Cancel Payment: the widget's invoice and payment endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.errors import (
    GoCardlessNotAuthorized,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    TooManyRequests,
    Unauthenticated,
    UserNotInAudience,
    ValidationFailed,
    ZohoNotAuthorized,
)
from app.routers.deps import RuntimeDep, SessionDep, WidgetCallerDep
from app.routers.routing import AuthenticateBeforeBody
from app.schemas.identifiers import GOCARDLESS_ID_MAX, PAYMENT_ID, ZOHO_ID, ZOHO_ID_MAX
from app.schemas.invoices import (
    ContactOut,
    CustomerRef,
    InvoiceMandates,
    InvoiceOut,
    MandateRequestEnvelope,
    PaymentCreate,
    PaymentEnvelope,
    RefundCreate,
    RefundEnvelope,
    RefundOut,
)
from app.schemas.problems import problem_responses
from app.services.installations import require_gocardless
from app.services.invoice_payments import (
    InvalidInvoiceAmount,
    MandateNotFound,
    PaymentChargedBack,
    PaymentNotCancellable,
    PaymentRetryPossible,
    cancel_invoice_payment,
    create_invoice_payment,
)
from app.services.invoices import (
    InvoiceHasNoContact,
    InvoiceNotReadable,
    SyncNotDone,
    contact_customers,
    customer_mandates,
    decimal_string,
    invoice_payments_standing,
    mandate_out,
    pending_mandate_request,
    read_bank_accounts,
    read_org_invoice,
    require_contact,
    require_synced,
)
from app.services.mandate_requests import (
    ContactHasNoEmail,
    MandateAlreadySetUp,
    request_mandate,
)
from app.services.payment_problems import (
    AmountAboveSchemeMaximum,
    AmountBelowSchemeMinimum,
    ChargeDateNotAllowed,
    CurrencyMismatch,
    MandateNotUsable,
    PaymentReferenceRefused,
    PaymentRefused,
)
from app.services.payment_refunds import (
    PaymentNotRefundable,
    RefundConflict,
    RefundExceedsPayment,
    RefundsNotEnabled,
    refund_payment,
)
from app.services.payment_retries import PaymentNotRetryable, retry_invoice_payment
from app.services.providers import gocardless_client, zoho_crm

router = APIRouter(prefix="/api/v1", tags=["invoices"], route_class=AuthenticateBeforeBody)

ZohoId = Annotated[
    str,
    Path(pattern=ZOHO_ID, max_length=ZOHO_ID_MAX, description="Zoho record id (ASCII digits)"),
]
PaymentId = Annotated[
    str, Path(pattern=PAYMENT_ID, max_length=GOCARDLESS_ID_MAX, description="GoCardless payment id")
]
_COMMON = (
    Unauthenticated,
    UserNotInAudience,
    ValidationFailed,
    ZohoNotAuthorized,
    GoCardlessNotAuthorized,
    ProviderUnavailable,
    ProviderError,
)


@router.get(
    "/invoices/{invoice_id}/mandates",
    summary="The invoice, its contact's mandates and its payments (the Send Invoice popup)",
    responses=problem_responses(
        NotFound, InvoiceHasNoContact, InvoiceNotReadable, SyncNotDone, *_COMMON
    ),
)
async def get_invoice_mandates(
    invoice_id: ZohoId, caller: WidgetCallerDep, session: SessionDep, runtime: RuntimeDep
) -> InvoiceMandates:
    assert caller.zoho is not None
    installation = caller.installation
    connection = await require_gocardless(session, runtime, installation)
    await require_synced(session, installation.id)
    crm = zoho_crm(runtime, caller.zoho)
    invoice = await read_org_invoice(session, crm, caller.zoho, invoice_id)
    contact = require_contact(invoice)
    customers = await contact_customers(session, installation.id, contact, crm)
    gc = gocardless_client(runtime, connection)
    mandates = await customer_mandates(session, installation.id, customers, gc)
    await read_bank_accounts(session, gc, installation.id, mandates)
    owners = {c.id: c for c in customers}
    payments = await invoice_payments_standing(session, gc, installation.id, invoice_id)
    return InvoiceMandates(
        invoice=InvoiceOut(
            id=invoice.id,
            number=invoice.number,
            total=decimal_string(invoice.total, invoice.currency),
            currency=invoice.currency,
            contact=ContactOut(id=contact.id, name=contact.name, email=contact.email),
        ),
        customer=CustomerRef(id=customers[0].id) if customers else None,
        mandates=[
            mandate_out(m, invoice.currency, owners.get(m.customer_id or "")) for m in mandates
        ],
        payments=payments,
        mandate_request=await pending_mandate_request(session, installation.id, invoice_id),
    )


@router.post(
    "/invoices/{invoice_id}/payments",
    status_code=status.HTTP_201_CREATED,
    summary="Collect the invoice total against one of the contact's mandates",
    description="Creates at most one live payment per invoice: repeating the call (double "
    "click, retry) returns the existing payment with 200. A cancelled payment frees the "
    "invoice; a failed one only once GoCardless says it can no longer be retried (409 "
    "`payment_retry_possible` until then: use Retry); a charged-back one only with "
    '`"recollect_charged_back": true` (409 `payment_charged_back` without it).',
    responses={
        200: {"model": PaymentEnvelope, "description": "The invoice's existing live payment"},
        **problem_responses(
            NotFound,
            MandateNotFound,
            MandateNotUsable,
            CurrencyMismatch,
            InvalidInvoiceAmount,
            AmountAboveSchemeMaximum,
            AmountBelowSchemeMinimum,
            ChargeDateNotAllowed,
            PaymentReferenceRefused,
            PaymentRefused,
            InvoiceHasNoContact,
            PaymentRetryPossible,
            PaymentChargedBack,
            SyncNotDone,
            *_COMMON,
        ),
    },
)
async def post_invoice_payment(
    invoice_id: ZohoId,
    body: PaymentCreate,
    caller: WidgetCallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> PaymentEnvelope:
    assert caller.zoho is not None
    result = await create_invoice_payment(
        session,
        runtime,
        caller.installation,
        caller.zoho,
        caller.user_id,
        invoice_id=invoice_id,
        mandate_id=body.mandate_id,
        charge_date=body.charge_date,
        recollect=body.recollect_charged_back,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return PaymentEnvelope(payment=result.payment)


@router.post(
    "/invoices/{invoice_id}/mandate-requests",
    status_code=status.HTTP_201_CREATED,
    summary="Email the contact a link to set up a Direct Debit mandate",
    description="Asking again while a request is pending re-sends its link, renewed (a new "
    "GoCardless flow) when it expires within a day or the payer left the page; a request "
    "GoCardless no longer accepts is replaced by a new one. `expires_at` says when the link "
    "stops working. At most one email per invoice every 10 minutes and 50 per installation an "
    "hour (settings): beyond that 429 `too_many_requests` with `Retry-After`, and no email is "
    "sent. 409 `mandate_request_fulfilled` when the customer has just completed it.",
    responses=problem_responses(
        NotFound,
        ContactHasNoEmail,
        InvoiceHasNoContact,
        MandateAlreadySetUp,
        TooManyRequests,
        SyncNotDone,
        *_COMMON,
    ),
)
async def post_mandate_request(
    invoice_id: ZohoId, caller: WidgetCallerDep, session: SessionDep, runtime: RuntimeDep
) -> MandateRequestEnvelope:
    assert caller.zoho is not None
    request = await request_mandate(
        session, runtime, caller.installation, caller.zoho, caller.user_id, invoice_id
    )
    return MandateRequestEnvelope(mandate_request=request)


@router.post(
    "/payments/{payment_id}/cancel",
    summary="Cancel a payment that GoCardless has not yet submitted to the bank",
    responses=problem_responses(NotFound, PaymentNotCancellable, *_COMMON),
)
async def post_cancel_payment(
    payment_id: PaymentId, caller: WidgetCallerDep, session: SessionDep, runtime: RuntimeDep
) -> PaymentEnvelope:
    assert caller.zoho is not None
    payment = await cancel_invoice_payment(
        session, runtime, caller.installation, caller.zoho, caller.user_id, payment_id
    )
    return PaymentEnvelope(payment=payment)


@router.post(
    "/payments/{payment_id}/retry",
    summary="Submit a failed payment to the bank again (the same payment, never a new one)",
    description="GoCardless `actions/retry`: only a failed payment on an active mandate, not "
    "already booked for an automatic retry, retried fewer than three times, whose invoice has "
    "not gone on to another payment. Otherwise 409 `payment_not_retryable` saying why.",
    responses=problem_responses(NotFound, PaymentNotRetryable, *_COMMON),
)
async def post_retry_payment(
    payment_id: PaymentId, caller: WidgetCallerDep, session: SessionDep, runtime: RuntimeDep
) -> PaymentEnvelope:
    assert caller.zoho is not None
    payment = await retry_invoice_payment(
        session, runtime, caller.installation, caller.zoho, caller.user_id, payment_id
    )
    return PaymentEnvelope(payment=payment)


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    summary="Give all or part of a collected payment back to the customer",
    description="GoCardless refund with `total_amount_confirmation` (everything refunded on the "
    "payment, this refund included). Only a confirmed or paid-out payment (409 "
    "`payment_not_refundable`), not more than is left (422 `refund_exceeds_payment`), only when "
    "GoCardless has refunds enabled for the account (409 `refunds_not_enabled`). The same "
    "amount asked again for the payment within 10 minutes (a double click, a retried request) "
    "answers 200 with the refund already made, never a second one.",
    responses={
        200: {"model": RefundEnvelope, "description": "The refund this request repeats"},
        **problem_responses(
            NotFound,
            PaymentNotRefundable,
            RefundExceedsPayment,
            RefundsNotEnabled,
            RefundConflict,
            *_COMMON,
        ),
    },
)
async def post_refund(
    payment_id: PaymentId,
    body: RefundCreate,
    caller: WidgetCallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> RefundEnvelope:
    made = await refund_payment(
        session, runtime, caller.installation, caller.user_id, payment_id, body.amount
    )
    if not made.created:
        response.status_code = status.HTTP_200_OK
    refund = made.refund
    return RefundEnvelope(
        refund=RefundOut(id=refund.id, amount=refund.amount, status=refund.status)
    )
