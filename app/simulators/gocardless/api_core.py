"""Creditors, customers, customer bank accounts and mandates."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from app.simulators.gocardless import lifecycle
from app.simulators.gocardless.errors import FieldErrors
from app.simulators.gocardless.http import ApiContext, api_context
from app.simulators.gocardless.resources import CUSTOMER_FIELDS, Customer, Mandate
from app.simulators.gocardless.responses import (
    check_idempotency,
    found,
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
    optional_str,
)

router = APIRouter()
CUSTOMER_SCHEMA = {**dict.fromkeys(CUSTOMER_FIELDS, FREE), "metadata": FREE}
ACTION_SCHEMA = {"metadata": FREE}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


@router.get("/creditors")
async def list_creditors(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    query = list_query(request.query_params, set())
    creditor = ctx.org.creditor
    # One creditor per organisation, so there is never a second page.
    items = [creditor] if query.created_ok(creditor.created_at) and query.page.after is None else []
    return JSONResponse(
        {
            "creditors": [c.to_json() for c in items],
            "meta": {"cursors": {"before": None, "after": None}, "limit": query.page.limit},
        }
    )


@router.get("/creditors/{creditor_id}")
async def get_creditor(creditor_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    creditor = ctx.org.creditor if creditor_id == ctx.org.creditor.id else None
    return single("creditors", found(creditor).to_json())


def _customer_details(body: dict[str, Any], problems: FieldErrors) -> dict[str, str | None]:
    details = {name: optional_str(body, name, "/customers") for name in CUSTOMER_FIELDS}
    email, country, language = details["email"], details["country_code"], details["language"]
    if email is not None and not _EMAIL.match(email):
        problems.add("email", "is invalid")
    if country is not None and not _COUNTRY.match(country):
        problems.add("country_code", "is invalid")
    if language is not None and not _LANGUAGE.match(language):
        problems.add("language", "is invalid")
    return details


@router.post("/customers", status_code=201)
async def create_customer(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    ctx.require_write()
    check_idempotency(ctx, "customers")
    body = envelope(await request.body(), "customers", CUSTOMER_SCHEMA)
    problems = FieldErrors("customers")
    details = _customer_details(body, problems)
    if not details["company_name"]:
        for name in ("given_name", "family_name"):
            if not details[name]:
                problems.add(name, "is required unless company_name is provided")
    meta = metadata(body, problems)
    problems.raise_if_any()
    details["language"] = details["language"] or "en"
    customer = Customer(
        id=ctx.state.ids.next("CU"),
        created_at=ctx.state.clock.now(),
        details=details,
        metadata=meta,
    )
    ctx.org.customers.add(customer.id, customer)
    ctx.org.remember_creation("customers", ctx.idempotency_key, customer.id)
    return single("customers", customer.to_json(), 201)


@router.get("/customers")
async def list_customers(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    query = list_query(
        request.query_params, {"currency", "sort_field", "sort_direction", "action_required"}
    )
    currency = query.filters.get("currency")
    org = ctx.org

    def keep(customer: Customer) -> bool:
        if query.filters.get("action_required") == "true":
            return False  # the simulator never holds customers awaiting action
        if currency is not None and not any(
            (account := org.bank_accounts.get(i)) is not None and account.currency == currency
            for i in org.bank_accounts.ids_for("customer", customer.id)
        ):
            return False
        return query.created_ok(customer.created_at)

    sort_field = query.filters.get("sort_field")
    problems = FieldErrors("")
    if sort_field not in (None, "name", "company_name", "created_at"):
        problems.add("sort_field", "is invalid")
    if query.filters.get("sort_direction", "desc") not in ("asc", "desc"):
        problems.add("sort_direction", "is invalid")
    problems.raise_if_any()
    sort_key = None
    if sort_field is not None:
        sort_key = _customer_sort_key(sort_field)
    page = paged(
        lambda: org.customers.page(
            query.page,
            keep=keep,
            sort_key=sort_key,
            descending=query.filters.get("sort_direction", "desc") == "desc",
        )
    )
    return listing("customers", page, query.page, Customer.to_json)


def _customer_sort_key(field: str) -> Any:
    if field == "created_at":
        return lambda c: c.created_at
    if field == "company_name":
        return lambda c: c.details.get("company_name") or ""
    return lambda c: (c.details.get("family_name") or "", c.details.get("given_name") or "")


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    return single("customers", found(ctx.org.customers.get(customer_id)).to_json())


@router.put("/customers/{customer_id}")
async def update_customer(
    customer_id: str, request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    ctx.require_write()
    customer = found(ctx.org.customers.get(customer_id))
    body = envelope(await request.body(), "customers", CUSTOMER_SCHEMA)
    problems = FieldErrors("customers")
    details = _customer_details(body, problems)
    meta = metadata(body, problems) if "metadata" in body else None
    problems.raise_if_any()
    for name in CUSTOMER_FIELDS:
        if name in body:
            customer.details[name] = details[name]
    if meta is not None:
        customer.metadata = meta
    return single("customers", customer.to_json())


@router.get("/customer_bank_accounts")
async def list_bank_accounts(
    request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    query = list_query(request.query_params, {"customer", "enabled"})
    customer = query.filters.get("customer")
    enabled = query.filters.get("enabled")
    page = paged(
        lambda: ctx.org.bank_accounts.page(
            query.page,
            narrow=("customer", customer) if customer else None,
            keep=lambda a: (
                query.created_ok(a.created_at)
                and (enabled is None or str(a.enabled).lower() == enabled)
            ),
        )
    )
    return listing("customer_bank_accounts", page, query.page, lambda a: a.to_json())


@router.get("/customer_bank_accounts/{account_id}")
async def get_bank_account(account_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    account = found(ctx.org.bank_accounts.get(account_id))
    return single("customer_bank_accounts", account.to_json())


@router.get("/mandates")
async def list_mandates(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    query = list_query(
        request.query_params,
        {
            "customer",
            "customer_bank_account",
            "creditor",
            "reference",
            "scheme",
            "status",
            "mandate_type",
        },
    )
    filters = query.filters
    statuses, schemes = multi(filters.get("status")), multi(filters.get("scheme"))
    narrow = None
    if "customer" in filters:
        narrow = ("customer", filters["customer"])
    elif "customer_bank_account" in filters:
        narrow = ("customer_bank_account", filters["customer_bank_account"])

    def keep(mandate: Mandate) -> bool:
        return (
            (statuses is None or mandate.status in statuses)
            and (schemes is None or mandate.scheme in schemes)
            and filters.get("creditor", mandate.creditor) == mandate.creditor
            and filters.get("reference", mandate.reference) == mandate.reference
            and filters.get("customer_bank_account", mandate.customer_bank_account)
            == mandate.customer_bank_account
            and filters.get("mandate_type", "bank_debit") == "bank_debit"
            and query.created_ok(mandate.created_at)
        )

    page = paged(lambda: ctx.org.mandates.page(query.page, narrow=narrow, keep=keep))
    return listing(
        "mandates", page, query.page, lambda m: lifecycle.refresh(ctx.state, m).to_json()
    )


@router.get("/mandates/{mandate_id}")
async def get_mandate(mandate_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    mandate = found(ctx.org.mandates.get(mandate_id))
    return single("mandates", lifecycle.refresh(ctx.state, mandate).to_json())


@router.post("/mandates/{mandate_id}/actions/cancel")
async def cancel_mandate(
    mandate_id: str, request: Request, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    ctx.require_write()
    mandate = found(ctx.org.mandates.get(mandate_id))
    body = envelope(await request.body(), "data", ACTION_SCHEMA, optional=True)
    problems = FieldErrors("data")
    meta = metadata(body, problems)
    problems.raise_if_any()
    lifecycle.cancel_mandate(ctx.state, ctx.org, mandate, meta)
    return single("mandates", lifecycle.refresh(ctx.state, mandate).to_json())
