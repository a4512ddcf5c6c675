"""Billing requests (mandate requests) and billing request flows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from app.simulators.gocardless import billing, errors
from app.simulators.gocardless.billing import render_request
from app.simulators.gocardless.billing_resources import (
    PREFILLED_CUSTOMER_FIELDS,
    BillingRequest,
    BillingRequestFlow,
)
from app.simulators.gocardless.errors import FieldErrors
from app.simulators.gocardless.events import emit
from app.simulators.gocardless.formats import CURRENCY_SCHEME, SCHEME_CURRENCY
from app.simulators.gocardless.http import ApiContext, api_context
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
    optional_bool,
    optional_str,
)

router = APIRouter()
REQUEST_SCHEMA = {
    "mandate_request": {
        "currency": FREE,
        "scheme": FREE,
        "description": FREE,
        "verify": FREE,
        "metadata": FREE,
        "constraints": FREE,
        "sweeping": FREE,
        "consent_type": FREE,
        "authorisation_source": FREE,
        "funds_settlement": FREE,
        "reference": FREE,
    },
    "links": {"customer": FREE, "creditor": FREE, "customer_bank_account": FREE},
    "metadata": FREE,
    "fallback_enabled": FREE,
    "purpose_code": FREE,
    "payment_purpose_code": FREE,
    "payment_context_code": FREE,
    "payment_request": FREE,
    "subscription_request": FREE,
    "instalment_schedule_request": FREE,
}
FLOW_SCHEMA = {
    "links": {"billing_request": FREE},
    "redirect_uri": FREE,
    "exit_uri": FREE,
    "language": FREE,
    "auto_fulfil": FREE,
    "lock_currency": FREE,
    "lock_customer_details": FREE,
    "lock_bank_account": FREE,
    "show_redirect_buttons": FREE,
    "show_success_redirect_button": FREE,
    "skip_success_screen": FREE,
    "customer_details_captured": FREE,
    "prefilled_customer": dict.fromkeys(PREFILLED_CUSTOMER_FIELDS, FREE),
    "prefilled_bank_account": {"account_type": FREE},
}
VERIFY = ("minimum", "recommended", "when_available", "always")
FLOW_FLAGS = (
    "lock_currency",
    "lock_customer_details",
    "lock_bank_account",
    "show_redirect_buttons",
    "show_success_redirect_button",
    "skip_success_screen",
)


def _currency_and_scheme(
    ctx: ApiContext, mandate_request: dict[str, Any], problems: FieldErrors
) -> tuple[str | None, str | None]:
    currency = optional_str(mandate_request, "currency", "/billing_requests/mandate_request")
    scheme = optional_str(mandate_request, "scheme", "/billing_requests/mandate_request")
    if scheme is not None and scheme not in SCHEME_CURRENCY:
        problems.add("mandate_request/scheme", "is invalid")
        return currency, None
    if scheme is not None and currency is not None and SCHEME_CURRENCY[scheme] != currency:
        problems.add("mandate_request/currency", f"must be {SCHEME_CURRENCY[scheme]} for {scheme}")
    currency = currency or (SCHEME_CURRENCY[scheme] if scheme else None)
    if currency is not None and currency not in ctx.org.creditor.currencies():
        problems.add("mandate_request/currency", "is not supported by the creditor")
    return currency, scheme or (CURRENCY_SCHEME.get(currency) if currency else None)


@router.post("/billing_requests", status_code=201)
async def create_billing_request(
    request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    ctx.require_write()
    check_idempotency(ctx, "billing_requests")
    body = envelope(await request.body(), "billing_requests", REQUEST_SCHEMA)
    problems = FieldErrors("billing_requests")
    for other in ("payment_request", "subscription_request", "instalment_schedule_request"):
        if body.get(other) is not None:
            problems.add(other, "is not supported by the simulator (mandate requests only)")
    mandate_request = body.get("mandate_request")
    if mandate_request is None:
        problems.add("mandate_request", "is required")
        problems.raise_if_any()
    assert isinstance(mandate_request, dict)
    currency, scheme = _currency_and_scheme(ctx, mandate_request, problems)
    verify = optional_str(mandate_request, "verify", "/billing_requests/mandate_request")
    if verify is not None and verify not in VERIFY:
        problems.add("mandate_request/verify", "is invalid")
    meta = metadata(body, problems)
    request_meta = metadata(mandate_request, problems, "mandate_request/metadata")
    problems.raise_if_any()
    links = body.get("links") or {}
    customer_id = optional_str(links, "customer", "/billing_requests/links")
    if customer_id is not None:
        linked("customer", ctx.org.customers.get(customer_id))
    creditor_id = optional_str(links, "creditor", "/billing_requests/links")
    if creditor_id is not None and creditor_id != ctx.org.creditor.id:
        raise errors.link_not_found("creditor")
    account_id = optional_str(links, "customer_bank_account", "/billing_requests/links")
    if account_id is not None:
        account = linked("customer_bank_account", ctx.org.bank_accounts.get(account_id))
        if account.customer != customer_id:
            raise errors.link_not_found("customer_bank_account")
    billing_request = BillingRequest(
        id=ctx.state.ids.next("BRQ"),
        created_at=ctx.state.clock.now(),
        creditor=ctx.org.creditor.id,
        organisation=ctx.org.id,
        mandate_request_id=ctx.state.ids.next("MRQ"),
        currency=currency,
        scheme=scheme,
        description=optional_str(
            mandate_request, "description", "/billing_requests/mandate_request"
        ),
        verify=verify or "recommended",
        mandate_request_metadata=request_meta,
        metadata=meta,
        fallback_enabled=bool(optional_bool(body, "fallback_enabled", "/billing_requests")),
        purpose_code=optional_str(body, "purpose_code", "/billing_requests"),
        customer=customer_id,
        customer_bank_account=account_id,
    )
    ctx.org.billing_requests.add(billing_request.id, billing_request, customer=customer_id)
    ctx.org.remember_creation("billing_requests", ctx.idempotency_key, billing_request.id)
    emit(
        ctx.state,
        ctx.org,
        resource_type="billing_requests",
        action="created",
        resource_id=billing_request.id,
        resource_metadata=meta,
        links={"customer": customer_id},
    )
    return single("billing_requests", render_request(ctx.org, billing_request), 201)


@router.get("/billing_requests")
async def list_billing_requests(
    request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    query = list_query(request.query_params, {"customer", "status"})
    customer, status = query.filters.get("customer"), query.filters.get("status")
    page = paged(
        lambda: ctx.org.billing_requests.page(
            query.page,
            narrow=("customer", customer) if customer else None,
            keep=lambda r: (
                (status is None or r.status == status) and query.created_ok(r.created_at)
            ),
        )
    )
    return listing(
        "billing_requests", page, query.page, lambda r: render_request(ctx.org, r, listed=True)
    )


@router.get("/billing_requests/{request_id}")
async def get_billing_request(
    request_id: str, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    billing_request = found(ctx.org.billing_requests.get(request_id))
    return single("billing_requests", render_request(ctx.org, billing_request))


@router.post("/billing_requests/{request_id}/actions/cancel")
async def cancel_billing_request(
    request_id: str, request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    ctx.require_write()
    billing_request = found(ctx.org.billing_requests.get(request_id))
    body = envelope(await request.body(), "data", {"metadata": FREE}, optional=True)
    problems = FieldErrors("data")
    metadata(body, problems)
    problems.raise_if_any()
    if billing_request.status not in billing.OPEN_STATUSES:
        raise errors.invalid_state(
            "cancellation_failed", "This billing request is not in a cancellable state"
        )
    billing.cancel(ctx.state, ctx.org, billing_request)
    return single("billing_requests", render_request(ctx.org, billing_request))


@router.post("/billing_request_flows", status_code=201)
async def create_flow(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    ctx.require_write()
    check_idempotency(ctx, "billing_request_flows")
    body = envelope(await request.body(), "billing_request_flows", FLOW_SCHEMA)
    pointer = "/billing_request_flows"
    problems = FieldErrors("billing_request_flows")
    request_id = optional_str(body.get("links") or {}, "billing_request", f"{pointer}/links")
    if request_id is None:
        problems.add("links/billing_request", "is required")
    flags = {name: bool(optional_bool(body, name, pointer)) for name in FLOW_FLAGS}
    redirect_uri = optional_str(body, "redirect_uri", pointer)
    exit_uri = optional_str(body, "exit_uri", pointer)
    language = optional_str(body, "language", pointer) or "en"
    prefilled = body.get("prefilled_customer") or {}
    for name in PREFILLED_CUSTOMER_FIELDS:
        optional_str(prefilled, name, f"{pointer}/prefilled_customer")
    problems.raise_if_any()
    assert request_id is not None
    billing_request = linked("billing_request", ctx.org.billing_requests.get(request_id))
    if billing_request.status not in billing.OPEN_STATUSES:
        raise errors.invalid_state(
            "billing_request_not_active", f"The billing request is {billing_request.status}"
        )
    now = ctx.state.clock.now()
    flow_id = ctx.state.ids.next("BRF")
    base = ctx.state.options.public_url or str(request.base_url).rstrip("/")
    flow = BillingRequestFlow(
        id=flow_id,
        created_at=now,
        expires_at=now + ctx.state.options.flow_lifetime,
        billing_request=billing_request.id,
        authorisation_url=f"{base}/billing/static/flow?id={flow_id}",
        redirect_uri=redirect_uri,
        exit_uri=exit_uri,
        language=language,
        prefilled_customer=dict(prefilled),
        prefilled_bank_account=dict(body.get("prefilled_bank_account") or {}),
        lock_currency=flags["lock_currency"],
        lock_customer_details=flags["lock_customer_details"],
        lock_bank_account=flags["lock_bank_account"],
        show_redirect_buttons=flags["show_redirect_buttons"],
        show_success_redirect_button=flags["show_success_redirect_button"],
        skip_success_screen=flags["skip_success_screen"],
    )
    ctx.org.flows[flow.id] = flow
    ctx.state.flow_owners[flow.id] = ctx.org.id
    billing_request.flows.append(flow.id)
    ctx.org.remember_creation("billing_request_flows", ctx.idempotency_key, flow.id)
    emit(
        ctx.state,
        ctx.org,
        resource_type="billing_requests",
        action="flow_created",
        resource_id=billing_request.id,
        resource_metadata=billing_request.metadata,
        links={"customer": billing_request.customer, "billing_request_flow": flow.id},
    )
    return single("billing_request_flows", flow.to_json(), 201)


@router.post("/billing_request_flows/{flow_id}/actions/initialise")
async def initialise_flow(flow_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    ctx.require_write()
    flow = found(ctx.org.flows.get(flow_id))
    flow.session_token = flow.session_token or f"sesh_{ctx.state.ids.token(24)}"
    return single("billing_request_flows", flow.to_json())
