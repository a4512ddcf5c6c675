"""`GET /events` (the catch-up feed) and `GET /events/{id}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from app.simulators.gocardless import errors, lifecycle
from app.simulators.gocardless.billing import render_request
from app.simulators.gocardless.http import ApiContext, api_context
from app.simulators.gocardless.resources import Event
from app.simulators.gocardless.responses import found, paged, single
from app.simulators.gocardless.validation import list_query

router = APIRouter()
INDEXED_LINKS = ("payment", "mandate", "billing_request", "creditor", "refund", "payout")
OTHER_LINKS = (
    "export",
    "instalment_schedule",
    "outbound_payment",
    "parent_event",
    "payer_authorisation",
    "scheme_identifier",
    "subscription",
    "payment_account_transaction",
)
# `include` names the singular of the `resource_type` filter and adds, under `linked`, the
# current state of every resource the page's events link to. Kinds the simulator does not
# model are accepted and answer an empty list, as an account without them would.
INCLUDABLE = {
    name: f"{name}s"
    for name in (
        "billing_request",
        "creditor",
        "customer",
        "instalment_schedule",
        "mandate",
        "outbound_payment",
        "payer_authorisation",
        "payment",
        "payout",
        "refund",
        "scheme_identifier",
        "subscription",
    )
}


@router.get("/events")
async def list_events(request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    query = list_query(
        request.query_params,
        {"action", "resource_type", "include", *INDEXED_LINKS, *OTHER_LINKS},
    )
    filters = query.filters
    per_resource = [name for name in (*INDEXED_LINKS, *OTHER_LINKS) if name in filters]
    if "resource_type" in filters and per_resource:
        raise errors.api_usage(
            400, "invalid_filters", "resource_type cannot be combined with a resource filter"
        )
    include = filters.get("include")
    if include is not None and (
        include not in INCLUDABLE or filters.get("resource_type") != INCLUDABLE[include]
    ):
        problems = errors.FieldErrors("")
        problems.add("include", "must name the resource of the resource_type filter")
        raise problems.to_error()
    narrow = None
    if "resource_type" in filters:
        narrow = ("resource_type", filters["resource_type"])
    indexed = [name for name in INDEXED_LINKS if name in filters]
    if indexed:
        narrow = (indexed[0], filters[indexed[0]])
    action = filters.get("action")

    def keep(event: Event) -> bool:
        return (
            (action is None or event.action == action)
            and all(event.links.get(name) == filters[name] for name in per_resource)
            and query.created_ok(event.created_at)
        )

    page = paged(lambda: ctx.org.events.page(query.page, narrow=narrow, keep=keep))
    body: dict[str, Any] = {
        "events": [event.to_json() for event in page.items],
        "meta": {
            "cursors": {"before": page.before, "after": page.after},
            "limit": query.page.limit,
        },
    }
    if include is not None:
        body["linked"] = {INCLUDABLE[include]: _linked(ctx, include, page.items)}
    return JSONResponse(body)


def _linked(ctx: ApiContext, include: str, events: list[Event]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any] | None] = {}
    for event in events:
        resource_id = event.links.get(include)
        if resource_id is not None and resource_id not in seen:
            seen[resource_id] = _current(ctx, include, resource_id)
    return [resource for resource in seen.values() if resource is not None]


def _current(ctx: ApiContext, include: str, resource_id: str) -> dict[str, Any] | None:
    org = ctx.org
    if include == "payment" and (payment := org.payments.get(resource_id)):
        return payment.to_json()
    if include == "mandate" and (mandate := org.mandates.get(resource_id)):
        return lifecycle.refresh(ctx.state, mandate).to_json()
    if include == "customer" and (customer := org.customers.get(resource_id)):
        return customer.to_json()
    if include == "payout" and (payout := org.payouts.get(resource_id)):
        return payout.to_json()
    if include == "refund" and (refund := org.refunds.get(resource_id)):
        return refund.to_json()
    if include == "billing_request" and (request := org.billing_requests.get(resource_id)):
        return render_request(org, request)
    if include == "creditor" and resource_id == org.creditor.id:
        return org.creditor.to_json()
    return None


@router.get("/events/{event_id}")
async def get_event(event_id: str, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    return single("events", found(ctx.org.events.get(event_id)).to_json())
