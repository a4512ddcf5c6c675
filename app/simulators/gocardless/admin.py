"""The simulator's own control API under `/_sim/` (not part of GoCardless): organisations
and tokens, seeding, the OAuth app, webhook endpoints, faults, time and statuses."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from app.simulators.common import DeliveryPolicy, FaultConfig
from app.simulators.gocardless import billing, lifecycle
from app.simulators.gocardless.errors import GoCardlessError
from app.simulators.gocardless.events import emit, emit_disconnected
from app.simulators.gocardless.http import simulator
from app.simulators.gocardless.resources import Mandate, Payment
from app.simulators.gocardless.seed import seed_organisation
from app.simulators.gocardless.state import (
    Organisation,
    Scope,
    SimulatorState,
    VerificationStatus,
)

router = APIRouter(prefix="/_sim", tags=["simulator admin"])


class NewOrganisation(BaseModel):
    name: str = "Simulated Merchant Ltd"
    email: str | None = None
    verification_status: VerificationStatus = "successful"
    currencies: list[str] = Field(default_factory=lambda: ["GBP", "EUR"])
    scope: Scope = "read_write"


class NewToken(BaseModel):
    scope: Scope = "read_write"


class Verification(BaseModel):
    status: VerificationStatus


class SeedRequest(BaseModel):
    customers: int = Field(default=100, ge=0, le=200_000)
    mandate_share: float = Field(default=0.8, ge=0, le=1)
    payments_per_mandate: int = Field(default=4, ge=0, le=50)
    seed: int = 0


class OAuthClientConfig(BaseModel):
    client_id: str
    client_secret: str
    redirect_uri: str
    name: str | None = None


class WebhookEndpointConfig(BaseModel):
    url: str
    secret: str
    organisation_id: str | None = Field(
        default=None, description="omit for the partner app's endpoint (every organisation)"
    )


class Advance(BaseModel):
    days: float = 0
    hours: float = 0
    minutes: float = 0
    seconds: float = 0


class StatusMove(BaseModel):
    status: str


class SchemeIdentifierChange(BaseModel):
    scheme: str


class Bank(BaseModel):
    failure_rate: float = Field(ge=0, le=1)


class RateLimit(BaseModel):
    per_minute: int = Field(ge=1)


def _org(state: SimulatorState, organisation_id: str) -> Organisation:
    org = state.organisations.get(organisation_id)
    if org is None:
        raise HTTPException(404, f"no organisation {organisation_id}")
    return org


@router.get("/state")
async def get_state(request: Request) -> dict[str, Any]:
    return simulator(request).summary()


@router.post("/reset")
async def reset(request: Request) -> dict[str, str]:
    simulator(request).reset()
    return {"status": "reset"}


@router.post("/organisations", status_code=201)
async def create_organisation(body: NewOrganisation, request: Request) -> dict[str, Any]:
    state = simulator(request)
    org = state.create_organisation(
        name=body.name,
        email=body.email,
        verification_status=body.verification_status,
        currencies=tuple(body.currencies),
    )
    token = state.issue_token(org.id, scope=body.scope)
    return {
        "organisation_id": org.id,
        "creditor_id": org.creditor.id,
        "email": org.email,
        "access_token": token.token,
    }


@router.post("/organisations/{organisation_id}/tokens", status_code=201)
async def create_token(organisation_id: str, body: NewToken, request: Request) -> dict[str, str]:
    state = simulator(request)
    _org(state, organisation_id)
    return {"access_token": state.issue_token(organisation_id, scope=body.scope).token}


@router.post("/organisations/{organisation_id}/disconnect")
async def disconnect(organisation_id: str, request: Request) -> dict[str, int]:
    """The merchant revokes the partner app in their dashboard: its tokens stop working
    and the app's webhook endpoints receive `organisations`/`disconnected`."""
    state = simulator(request)
    org = _org(state, organisation_id)
    revoked = 0
    for token in state.tokens.values():
        if token.organisation_id == org.id and token.client_id is not None and not token.revoked:
            token.revoked = True
            revoked += 1
    emit_disconnected(state, org)
    return {"revoked_tokens": revoked}


@router.put("/organisations/{organisation_id}/verification")
async def set_verification(
    organisation_id: str, body: Verification, request: Request
) -> dict[str, str]:
    state = simulator(request)
    org = _org(state, organisation_id)
    if org.creditor.verification_status != body.status:
        org.creditor.verification_status = body.status
        emit(
            state,
            org,
            resource_type="creditors",
            action="updated",
            resource_id=org.creditor.id,
            details={
                "origin": "gocardless",
                "cause": "creditor_updated",
                "description": "This creditor has been updated.",
                "property": "verification_status",
            },
        )
    return {"verification_status": body.status}


class Refunds(BaseModel):
    enabled: bool


@router.put("/organisations/{organisation_id}/refunds")
async def set_refunds(organisation_id: str, body: Refunds, request: Request) -> dict[str, bool]:
    """Switch refunds on or off for the creditor (GoCardless enables them on request)."""
    org = _org(simulator(request), organisation_id)
    org.creditor.can_create_refunds = body.enabled
    return {"can_create_refunds": body.enabled}


@router.post("/organisations/{organisation_id}/seed")
async def seed(organisation_id: str, body: SeedRequest, request: Request) -> dict[str, int]:
    state = simulator(request)
    counts = seed_organisation(
        state,
        _org(state, organisation_id),
        customers=body.customers,
        mandate_share=body.mandate_share,
        payments_per_mandate=body.payments_per_mandate,
        seed=body.seed,
    )
    return counts.__dict__


@router.put("/oauth/client")
async def configure_oauth_client(body: OAuthClientConfig, request: Request) -> dict[str, str]:
    client = simulator(request).configure_oauth_client(
        body.client_id, body.client_secret, body.redirect_uri, body.name
    )
    return {"client_id": client.client_id, "redirect_uri": client.redirect_uri}


@router.post("/webhook-endpoints", status_code=201)
async def add_webhook_endpoint(body: WebhookEndpointConfig, request: Request) -> dict[str, Any]:
    state = simulator(request)
    if body.organisation_id is not None:
        _org(state, body.organisation_id)
    scope = state.add_webhook_endpoint(body.url, body.secret, organisation_id=body.organisation_id)
    return {"id": scope.endpoint.id, "url": body.url, "organisation_id": body.organisation_id}


@router.get("/webhook-endpoints")
async def list_webhook_endpoints(request: Request) -> list[dict[str, Any]]:
    return [
        {"id": s.endpoint.id, "url": s.endpoint.url, "organisation_id": s.organisation_id}
        for s in simulator(request).webhook_endpoints.values()
    ]


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204)
async def remove_webhook_endpoint(endpoint_id: str, request: Request) -> None:
    if simulator(request).webhook_endpoints.pop(endpoint_id, None) is None:
        raise HTTPException(404, f"no webhook endpoint {endpoint_id}")


@router.get("/webhook-delivery")
async def get_delivery_policy(request: Request) -> DeliveryPolicy:
    return simulator(request).dispatcher.policy


@router.put("/webhook-delivery")
async def set_delivery_policy(body: DeliveryPolicy, request: Request) -> DeliveryPolicy:
    simulator(request).dispatcher.configure(body)
    return body


@router.get("/webhooks")
async def list_deliveries(
    request: Request,
    state: Literal["pending", "delivered", "failed", "dropped"] | None = None,
) -> list[dict[str, Any]]:
    """The delivery log, oldest first, with each attempt's outcome and the events sent."""
    return [
        {
            "webhook_id": d.id,
            "endpoint_id": d.endpoint_id,
            "url": d.url,
            "state": d.state,
            "duplicate": d.duplicate,
            "created_at": d.created_at.isoformat(),
            "event_count": d.item_count,
            "body": d.body.decode(),
            "attempts": [
                {
                    "at": a.at.isoformat(),
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                    "response": a.response_preview,
                }
                for a in d.attempts
            ],
        }
        for d in simulator(request).dispatcher.deliveries()
        if state is None or d.state == state
    ]


@router.delete("/webhooks", status_code=204)
async def forget_deliveries(request: Request) -> None:
    """Empty the delivery log of finished webhooks (pending ones carry on)."""
    simulator(request).dispatcher.forget_finished()


@router.post("/webhooks/drain")
async def drain_webhooks(request: Request, timeout_seconds: float = 30) -> dict[str, int]:
    """Wait until every queued webhook is delivered, dropped or given up on."""
    dispatcher = simulator(request).dispatcher
    try:
        async with asyncio.timeout(timeout_seconds):
            await dispatcher.drain()
    except TimeoutError as exc:
        raise HTTPException(504, "webhooks still pending") from exc
    return {"deliveries": len(dispatcher.deliveries())}


@router.get("/faults")
async def get_faults(request: Request) -> FaultConfig:
    return simulator(request).faults.config


@router.put("/faults")
async def set_faults(body: FaultConfig, request: Request) -> FaultConfig:
    simulator(request).faults.configure(body)
    return body


@router.delete("/faults", status_code=204)
async def clear_faults(request: Request) -> None:
    simulator(request).faults.reset()


@router.get("/rate-limit")
async def rate_limit_usage(request: Request) -> dict[str, Any]:
    """The limit, and per access token: calls allowed, calls refused with 429, and the most
    allowed in any 60 seconds (whoever made them)."""
    state = simulator(request)
    return {"per_minute": state.limiter.limit, "tokens": state.limiter.usage()}


@router.put("/rate-limit")
async def set_rate_limit(body: RateLimit, request: Request) -> RateLimit:
    state = simulator(request)
    state.limiter.limit = body.per_minute
    state.limiter.reset()
    return body


@router.put("/bank")
async def set_bank(body: Bank, request: Request) -> Bank:
    simulator(request).failure_rate = body.failure_rate
    return body


@router.get("/clock")
async def get_clock(request: Request) -> dict[str, str]:
    return {"now": simulator(request).clock.now().isoformat()}


@router.post("/clock/advance")
async def advance_clock(body: Advance, request: Request) -> dict[str, Any]:
    """Move time forward and apply every bank-side step that falls due, in order."""
    state = simulator(request)
    delta = timedelta(days=body.days, hours=body.hours, minutes=body.minutes, seconds=body.seconds)
    if delta < timedelta(0):
        raise HTTPException(422, "time only moves forward")
    now = state.clock.advance(delta)
    before = sum(len(org.events) for org in state.organisations.values())
    for org in state.organisations.values():
        lifecycle.tick(state, org)
    after = sum(len(org.events) for org in state.organisations.values())
    return {"now": now.isoformat(), "events_emitted": after - before}


def _find(state: SimulatorState, kind: str, resource_id: str) -> tuple[Organisation, Any]:
    for org in state.organisations.values():
        table = org.payments if kind == "payments" else org.mandates
        item = table.get(resource_id)
        if item is not None:
            return org, item
    raise HTTPException(404, f"no {kind[:-1]} {resource_id}")


@router.post("/payments/{payment_id}/status")
async def move_payment(payment_id: str, body: StatusMove, request: Request) -> dict[str, Any]:
    state = simulator(request)
    org, payment = _find(state, "payments", payment_id)
    assert isinstance(payment, Payment)
    try:
        lifecycle.move_payment(state, org, payment, body.status)
    except (lifecycle.TransitionRefused, GoCardlessError) as exc:
        raise HTTPException(409, str(exc)) from exc
    return payment.to_json()


@router.post("/refunds/{refund_id}/fail")
async def fail_refund(refund_id: str, request: Request) -> dict[str, Any]:
    """The customer's bank returns a refund (`refunds` `failed`)."""
    state = simulator(request)
    for org in state.organisations.values():
        refund = org.refunds.get(refund_id)
        if refund is not None:
            try:
                lifecycle.fail_refund(state, org, refund)
            except lifecycle.TransitionRefused as exc:
                raise HTTPException(409, str(exc)) from exc
            return refund.to_json()
    raise HTTPException(404, f"no refund {refund_id}")


@router.post("/mandates/{mandate_id}/status")
async def move_mandate(mandate_id: str, body: StatusMove, request: Request) -> dict[str, Any]:
    state = simulator(request)
    org, mandate = _find(state, "mandates", mandate_id)
    assert isinstance(mandate, Mandate)
    try:
        lifecycle.move_mandate(state, org, mandate, body.status)
    except (lifecycle.TransitionRefused, GoCardlessError) as exc:
        raise HTTPException(409, str(exc)) from exc
    return lifecycle.refresh(state, mandate).to_json()


@router.post("/organisations/{organisation_id}/scheme-identifier-change")
async def change_scheme_identifier(
    organisation_id: str, body: SchemeIdentifierChange, request: Request
) -> dict[str, list[str]]:
    """The creditor gets a new scheme identifier (a Bacs upgrade to its own Service User
    Number): its mandates of that scheme are replaced, each with a `replaced` event."""
    state = simulator(request)
    org = _org(state, organisation_id)
    return {"new_mandates": lifecycle.change_scheme_identifier(state, org, body.scheme)}


@router.post("/billing_requests/{request_id}/fail")
async def fail_billing_request(request_id: str, request: Request) -> dict[str, str]:
    state = simulator(request)
    for org in state.organisations.values():
        billing_request = org.billing_requests.get(request_id)
        if billing_request is None:
            continue
        if billing_request.status not in billing.OPEN_STATUSES:
            raise HTTPException(409, f"a {billing_request.status} billing request cannot fail")
        billing.fail(state, org, billing_request)
        return {"status": billing_request.status}
    raise HTTPException(404, f"no billing request {request_id}")
