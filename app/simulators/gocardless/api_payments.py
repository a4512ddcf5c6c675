"""Payments (create with the real validation, list, get, update, cancel, retry), refunds
(create against a payment with `total_amount_confirmation`, list, get) and payouts."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from app.simulators.gocardless import errors, lifecycle
from app.simulators.gocardless.errors import FieldErrors
from app.simulators.gocardless.events import emit
from app.simulators.gocardless.formats import (
    AMOUNT_ABOVE_MAXIMUM,
    AMOUNT_BELOW_MINIMUM,
    CURRENCY_SCHEME,
    MANDATE_STATUSES_ACCEPTING_PAYMENTS,
    REFERENCE_MAX,
    SCHEME_AMOUNT_BOUNDS,
    SCHEME_CURRENCY,
    parse_date,
    roll_forward,
)
from app.simulators.gocardless.http import ApiContext, api_context
from app.simulators.gocardless.resources import Mandate, Payment
from app.simulators.gocardless.responses import (
    check_idempotency,
    found,
    linked,
    listing,
    paged,
    single,
)
from app.simulators.gocardless.validation import (
    FREE,
    envelope,
    list_query,
    metadata,
    multi,
    optional_bool,
    optional_int,
    optional_str,
)

router = APIRouter()
CREATE_SCHEMA = {
    "amount": FREE,
    "app_fee": FREE,
    "charge_date": FREE,
    "currency": FREE,
    "description": FREE,
    "faster_ach": FREE,
    "metadata": FREE,
    "psu_interaction_type": FREE,
    "reference": FREE,
    "retry_if_possible": FREE,
    "links": {"mandate": FREE},
}
UPDATE_SCHEMA = {"metadata": FREE, "retry_if_possible": FREE}
CANCEL_SCHEMA = {"metadata": FREE}
RETRY_SCHEMA = {"metadata": FREE, "charge_date": FREE}
REFUND_SCHEMA = {
    "amount": FREE,
    "total_amount_confirmation": FREE,
    "reference": FREE,
    "metadata": FREE,
    "links": {"payment": FREE, "mandate": FREE},
}


def _charge_date(
    raw: object, mandate: Mandate, ctx: ApiContext, problems: FieldErrors, path: str
) -> date:
    earliest = lifecycle.next_possible_charge_date(ctx.state, mandate)
    assert earliest is not None  # only asked for mandates that accept payments
    if raw is None:
        return earliest
    requested = parse_date(raw)
    if requested is None:
        problems.add(path, "is not a valid date")
        return earliest
    requested = roll_forward(requested)
    if requested < earliest:
        problems.add(path, "must be on or after mandate's next_possible_charge_date")
    return requested


@router.post("/payments", status_code=201)
async def create_payment(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    ctx.require_write()
    check_idempotency(ctx, "payments")
    body = envelope(await request.body(), "payments", CREATE_SCHEMA)
    pointer = "/payments"
    problems = FieldErrors("payments")
    amount = optional_int(body, "amount", pointer)
    currency = optional_str(body, "currency", pointer)
    mandate_id = optional_str(body.get("links") or {}, "mandate", f"{pointer}/links")
    description = optional_str(body, "description", pointer)
    reference = optional_str(body, "reference", pointer)
    app_fee = optional_int(body, "app_fee", pointer)
    retry_if_possible = optional_bool(body, "retry_if_possible", pointer)
    optional_bool(body, "faster_ach", pointer)
    if amount is None:
        problems.add("amount", "is required")
    elif amount <= 0:
        problems.add("amount", "must be greater than 0")
    if currency is None:
        problems.add("currency", "is required")
    elif currency not in CURRENCY_SCHEME:
        problems.add("currency", "is not a supported currency")
    if mandate_id is None:
        problems.add("links/mandate", "is required")
    if app_fee is not None and app_fee < 0:
        problems.add("app_fee", "must be greater than or equal to 0")
    meta = metadata(body, problems)
    problems.raise_if_any()
    assert amount is not None and currency is not None and mandate_id is not None

    mandate = linked("mandate", ctx.org.mandates.get(mandate_id))
    if mandate.new_mandate is not None:
        raise errors.mandate_replaced(mandate.new_mandate)
    if mandate.status not in MANDATE_STATUSES_ACCEPTING_PAYMENTS:
        raise errors.invalid_state("mandate_is_inactive", "Mandate is failed, cancelled or expired")
    expected = SCHEME_CURRENCY[mandate.scheme]
    if currency != expected:
        problems.add("currency", f"must be {expected} for a {mandate.scheme} mandate")
    minimum, maximum = SCHEME_AMOUNT_BOUNDS.get(mandate.scheme, (1, amount))
    if amount > maximum:
        problems.add("amount", AMOUNT_ABOVE_MAXIMUM)
    elif amount < minimum:
        problems.add("amount", AMOUNT_BELOW_MINIMUM)
    charge_date = _charge_date(body.get("charge_date"), mandate, ctx, problems, "charge_date")
    limit = REFERENCE_MAX.get(mandate.scheme)
    if reference is not None and (limit is None or len(reference) > limit):
        problems.add(
            "reference",
            f"is too long (maximum is {limit} characters)"
            if limit
            else f"cannot be set for {mandate.scheme} payments",
        )
    problems.raise_if_any()

    payment = Payment(
        id=ctx.state.ids.next("PM"),
        created_at=ctx.state.clock.now(),
        amount=amount,
        currency=currency,
        charge_date=charge_date,
        mandate=mandate.id,
        creditor=mandate.creditor,
        customer=mandate.customer,
        scheme=mandate.scheme,
        status="pending_submission",
        description=description,
        reference=reference,
        app_fee=app_fee,
        retry_if_possible=bool(retry_if_possible),
        metadata=meta,
    )
    ctx.org.payments.add(payment.id, payment, mandate=mandate.id, customer=mandate.customer)
    ctx.org.remember_creation("payments", ctx.idempotency_key, payment.id)
    emit(
        ctx.state,
        ctx.org,
        resource_type="payments",
        action="created",
        resource_id=payment.id,
        resource_metadata=payment.metadata,
    )
    lifecycle.schedule_payment_submission(ctx.state, ctx.org, payment)
    return single("payments", payment.to_json(), 201)


@router.get("/payments")
async def list_payments(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    query = list_query(
        request.query_params,
        {
            "customer",
            "creditor",
            "mandate",
            "status",
            "currency",
            "scheme",
            "subscription",
            "sort_field",
            "sort_direction",
        },
        date_ranges=frozenset({"charge_date"}),
    )
    filters = query.filters
    if "customer" in filters and "creditor" in filters:
        raise errors.api_usage(400, "invalid_filters", "customer and creditor cannot be combined")
    problems = FieldErrors("")
    sort_field = filters.get("sort_field")
    direction = filters.get("sort_direction", "desc")
    if sort_field not in (None, "charge_date", "amount"):
        problems.add("sort_field", "is invalid")
    if direction not in ("asc", "desc"):
        problems.add("sort_direction", "is invalid")
    problems.raise_if_any()
    statuses = multi(filters.get("status"))
    narrow = None
    if "mandate" in filters:
        narrow = ("mandate", filters["mandate"])
    elif "customer" in filters:
        narrow = ("customer", filters["customer"])

    def keep(payment: Payment) -> bool:
        return (
            (statuses is None or payment.status in statuses)
            and "subscription" not in filters  # the simulator has no subscriptions
            and filters.get("mandate", payment.mandate) == payment.mandate
            and filters.get("creditor", payment.creditor) == payment.creditor
            and filters.get("currency", payment.currency) == payment.currency
            and filters.get("scheme", payment.scheme) == payment.scheme
            and query.created_ok(payment.created_at)
            and query.range_ok("charge_date", payment.charge_date)
        )

    sort_key: Any = None
    if sort_field == "amount":
        sort_key = lambda p: p.amount  # noqa: E731 - chosen per request
    elif sort_field == "charge_date":
        sort_key = lambda p: p.charge_date  # noqa: E731 - chosen per request
    page = paged(
        lambda: ctx.org.payments.page(
            query.page,
            narrow=narrow,
            keep=keep,
            sort_key=sort_key,
            descending=direction == "desc",
            created=query.created_side if query.created_at else None,
        )
    )
    return listing("payments", page, query.page, Payment.to_json)


@router.get("/payments/{payment_id}")
async def get_payment(payment_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    return single("payments", found(ctx.org.payments.get(payment_id)).to_json())


@router.put("/payments/{payment_id}")
async def update_payment(
    payment_id: str, request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    ctx.require_write()
    payment = found(ctx.org.payments.get(payment_id))
    body = envelope(await request.body(), "payments", UPDATE_SCHEMA)
    problems = FieldErrors("payments")
    retry_if_possible = optional_bool(body, "retry_if_possible", "/payments")
    meta = metadata(body, problems) if "metadata" in body else None
    problems.raise_if_any()
    if meta is not None:
        payment.metadata = meta
    if retry_if_possible is not None:
        payment.retry_if_possible = retry_if_possible
    return single("payments", payment.to_json())


@router.post("/payments/{payment_id}/actions/cancel")
async def cancel_payment(
    payment_id: str, request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    ctx.require_write()
    payment = found(ctx.org.payments.get(payment_id))
    body = envelope(await request.body(), "data", CANCEL_SCHEMA, optional=True)
    problems = FieldErrors("data")
    meta = metadata(body, problems)
    problems.raise_if_any()
    lifecycle.cancel_payment(ctx.state, ctx.org, payment, meta)
    return single("payments", payment.to_json())


@router.post("/payments/{payment_id}/actions/retry")
async def retry_payment(
    payment_id: str, request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    ctx.require_write()
    payment = found(ctx.org.payments.get(payment_id))
    body = envelope(await request.body(), "data", RETRY_SCHEMA, optional=True)
    problems = FieldErrors("data")
    meta = metadata(body, problems)
    problems.raise_if_any()
    mandate = ctx.org.mandates.get(payment.mandate)
    charge_date = payment.charge_date
    if mandate is not None and mandate.status == "active":
        charge_date = _charge_date(body.get("charge_date"), mandate, ctx, problems, "charge_date")
        problems.raise_if_any()
    lifecycle.retry_payment(ctx.state, ctx.org, payment, charge_date, meta)
    return single("payments", payment.to_json())


@router.post("/refunds", status_code=201)
async def create_refund(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    ctx.require_write()
    check_idempotency(ctx, "refunds")
    body = envelope(await request.body(), "refunds", REFUND_SCHEMA)
    pointer = "/refunds"
    problems = FieldErrors("refunds")
    amount = optional_int(body, "amount", pointer)
    total = optional_int(body, "total_amount_confirmation", pointer)
    reference = optional_str(body, "reference", pointer)
    payment_id = optional_str(body.get("links") or {}, "payment", f"{pointer}/links")
    if amount is None:
        problems.add("amount", "is required")
    elif amount <= 0:
        problems.add("amount", "must be greater than 0")
    if payment_id is None:
        # Refunds against a mandate are a separate, restricted feature the simulator lacks.
        problems.add("links/payment", "is required")
    elif total is None:
        problems.add("total_amount_confirmation", "is required")
    meta = metadata(body, problems)
    problems.raise_if_any()
    assert amount is not None and total is not None and payment_id is not None
    # The creditor must have refunds switched on (API-FACTS §7 `can_create_refunds`); the
    # exact reason GoCardless answers with is not in our sources [VERIFY].
    if not ctx.org.creditor.can_create_refunds:
        raise errors.api_usage(
            403, "refund_not_enabled", "Refunds are not enabled for this creditor"
        )
    payment = linked("payment", ctx.org.payments.get(payment_id))
    if payment.status not in lifecycle.REFUNDABLE:
        raise errors.invalid_state(
            "refund_payment_invalid_state", "Only confirmed or paid out payments can be refunded"
        )
    if total != payment.amount_refunded + amount:
        raise errors.invalid_state(
            "total_amount_confirmation_invalid",
            "The total amount confirmation does not match the total amount refunded",
        )
    if payment.amount_refunded + amount > payment.amount:
        raise errors.invalid_state(
            "available_refund_amount_insufficient",
            "The refund amount exceeds the amount left to refund on this payment",
        )
    refund = lifecycle.create_refund(
        ctx.state, ctx.org, payment, amount, reference=reference, metadata=meta
    )
    ctx.org.remember_creation("refunds", ctx.idempotency_key, refund.id)
    return single("refunds", refund.to_json(), 201)


@router.get("/refunds")
async def list_refunds(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    query = list_query(request.query_params, {"payment", "mandate", "refund_type"})
    filters = query.filters
    narrow = None
    if "payment" in filters:
        narrow = ("payment", filters["payment"])
    elif "mandate" in filters:
        narrow = ("mandate", filters["mandate"])
    page = paged(
        lambda: ctx.org.refunds.page(
            query.page,
            narrow=narrow,
            keep=lambda r: (
                query.created_ok(r.created_at)
                and filters.get("mandate", r.mandate) == r.mandate
                and filters.get("refund_type", "payment") == "payment"
            ),
        )
    )
    return listing("refunds", page, query.page, lambda r: r.to_json())


@router.get("/refunds/{refund_id}")
async def get_refund(refund_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    return single("refunds", found(ctx.org.refunds.get(refund_id)).to_json())


@router.get("/payouts")
async def list_payouts(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    query = list_query(request.query_params, {"currency", "status", "payout_type", "creditor"})
    filters = query.filters
    page = paged(
        lambda: ctx.org.payouts.page(
            query.page,
            keep=lambda p: (
                query.created_ok(p.created_at)
                and filters.get("currency", p.currency) == p.currency
                and filters.get("status", p.status) == p.status
                and filters.get("creditor", p.creditor) == p.creditor
                and filters.get("payout_type", "merchant") == "merchant"
            ),
        )
    )
    return listing("payouts", page, query.page, lambda p: p.to_json())


@router.get("/payouts/{payout_id}")
async def get_payout(payout_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    return single("payouts", found(ctx.org.payouts.get(payout_id)).to_json())
