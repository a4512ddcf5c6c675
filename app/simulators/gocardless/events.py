"""Events: every change the real service reports is recorded for `GET /events` and queued
for the webhook endpoints that cover the organisation.

`details` (origin, cause, description) follow what GoCardless sends for each action;
bank-originated ones carry the scheme and a scheme reason code too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.simulators.gocardless.resources import Event
from app.simulators.gocardless.state import Organisation, SimulatorState

_API = "api"
_GC = "gocardless"
_BANK = "bank"
_PAYER = "payer"

DETAILS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("payments", "created"): (_API, "payment_created", "Payment created via the API."),
    ("payments", "submitted"): (
        _GC,
        "payment_submitted",
        "Payment submitted to the banks. As a result, it can no longer be cancelled.",
    ),
    ("payments", "confirmed"): (
        _GC,
        "payment_confirmed",
        "Enough time has passed since the payment was submitted for the banks to return an "
        "error, so this payment is now confirmed.",
    ),
    ("payments", "paid_out"): (
        _GC,
        "payment_paid_out",
        "The payment has been paid out by GoCardless.",
    ),
    ("payments", "failed"): (
        _BANK,
        "insufficient_funds",
        "The customer's account had insufficient funds to make this payment.",
    ),
    ("payments", "charged_back"): (
        _BANK,
        "authorisation_disputed",
        "The customer has disputed having been notified of this Direct Debit, or that the "
        "amount taken differs from the amount they were notified of.",
    ),
    ("payments", "cancelled"): (_API, "payment_cancelled", "Payment cancelled via the API."),
    ("payments", "resubmission_requested"): (
        _API,
        "payment_retried",
        "This payment will be resubmitted.",
    ),
    ("mandates", "created"): (_API, "mandate_created", "Mandate created via the API."),
    ("mandates", "submitted"): (
        _GC,
        "mandate_submitted",
        "The mandate has been submitted to the banks.",
    ),
    ("mandates", "active"): (
        _GC,
        "mandate_activated",
        "The mandate has been successfully set up by the customer's bank.",
    ),
    ("mandates", "cancelled"): (
        _API,
        "mandate_cancelled",
        "The mandate was cancelled at your request.",
    ),
    ("mandates", "failed"): (
        _BANK,
        "invalid_bank_details",
        "The specified bank account does not exist or was closed.",
    ),
    ("mandates", "expired"): (_GC, "mandate_expired", "The mandate expired due to inactivity."),
    ("mandates", "replaced"): (
        _GC,
        "scheme_identifier_changed",
        "The creditor has changed to a different scheme identifier so this mandate has been "
        "cancelled and replaced by a new one.",
    ),
    ("billing_requests", "created"): (
        _API,
        "billing_request_created",
        "This billing request has been created.",
    ),
    ("billing_requests", "flow_created"): (
        _API,
        "billing_request_flow_created",
        "A billing request flow has been created against this billing request.",
    ),
    ("billing_requests", "flow_visited"): (
        _PAYER,
        "billing_request_flow_visited",
        "The payer has visited the billing request flow.",
    ),
    ("billing_requests", "failed"): (
        _GC,
        "billing_request_failed",
        "This billing request has failed.",
    ),
    ("billing_requests", "flow_exited"): (
        _PAYER,
        "billing_request_flow_exited",
        "The payer has exited the billing request flow.",
    ),
    ("billing_requests", "collect_customer_details"): (
        _PAYER,
        "billing_request_collect_customer_details",
        "Customer details have been collected for this billing request.",
    ),
    ("billing_requests", "collect_bank_account"): (
        _PAYER,
        "billing_request_collect_bank_account",
        "Bank account details have been collected for this billing request.",
    ),
    ("billing_requests", "payer_details_confirmed"): (
        _PAYER,
        "billing_request_payer_details_confirmed",
        "Payer has confirmed all their details for this billing request.",
    ),
    ("billing_requests", "fulfilled"): (
        _GC,
        "billing_request_fulfilled",
        "This billing request has been fulfilled, and the resources have been created.",
    ),
    ("billing_requests", "cancelled"): (
        _API,
        "billing_request_cancelled",
        "This billing request has been cancelled, none of the resources have been created.",
    ),
    ("refunds", "created"): (_API, "refund_created", "The refund has been created."),
    ("refunds", "paid"): (
        _GC,
        "refund_paid",
        "The refund has been paid to your customer.",
    ),
    ("refunds", "failed"): (
        _GC,
        "refund_failed",
        "The refund did not reach your customer. It was returned to you.",
    ),
    ("payouts", "paid"): (
        _GC,
        "payout_paid",
        "GoCardless has transferred the payout to the creditor's bank account.",
    ),
    ("creditors", "updated"): (_GC, "creditor_updated", "This creditor has been updated."),
    ("organisations", "disconnected"): (
        _GC,
        "app_disconnected",
        "This app has been disconnected from the organisation.",
    ),
}

# Scheme reason codes for bank-originated events (Bacs ARUDD/ADDACS/DDICA, SEPA ISO codes).
REASON_CODES: dict[tuple[str, str], dict[str, str]] = {
    ("payments", "failed"): {"bacs": "ARUDD-0", "sepa_core": "AM04"},
    ("payments", "charged_back"): {"bacs": "DDICA-1", "sepa_core": "MD06"},
    ("mandates", "failed"): {"bacs": "ADDACS-B", "sepa_core": "AC01"},
}

SINGULAR = {
    "payments": "payment",
    "mandates": "mandate",
    "billing_requests": "billing_request",
    "creditors": "creditor",
    "refunds": "refund",
    "payouts": "payout",
    "organisations": "organisation",
}


def details_for(
    resource_type: str, action: str, *, scheme: str | None = None, **overrides: Any
) -> dict[str, Any]:
    origin, cause, description = DETAILS[(resource_type, action)]
    details: dict[str, Any] = {"origin": origin, "cause": cause, "description": description}
    codes = REASON_CODES.get((resource_type, action))
    if codes and scheme is not None and origin == _BANK:
        details["scheme"] = scheme
        details["reason_code"] = codes.get(scheme, "")
    if (resource_type, action) == ("payments", "failed"):
        details["will_attempt_retry"] = False
    details.update(overrides)
    return details


def emit(
    state: SimulatorState,
    org: Organisation,
    *,
    resource_type: str,
    action: str,
    resource_id: str,
    resource_metadata: dict[str, str] | None = None,
    links: dict[str, str | None] | None = None,
    details: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    at: datetime | None = None,
    scheme: str | None = None,
) -> Event:
    """Record one event and queue it for every webhook endpoint covering `org`."""
    all_links = {SINGULAR[resource_type]: resource_id, "organisation": org.id}
    all_links.update({k: v for k, v in (links or {}).items() if v is not None})
    event = Event(
        id=state.ids.next("EV"),
        created_at=at or state.clock.now(),
        resource_type=resource_type,
        action=action,
        links=all_links,
        details=details or details_for(resource_type, action, scheme=scheme),
        metadata=dict(metadata or {}),
        resource_metadata=dict(resource_metadata or {}),
    )
    assert event.id is not None
    org.events.add(
        event.id,
        event,
        resource_type=resource_type,
        payment=all_links.get("payment"),
        mandate=all_links.get("mandate"),
        billing_request=all_links.get("billing_request"),
        creditor=all_links.get("creditor"),
        refund=all_links.get("refund"),
        payout=all_links.get("payout"),
    )
    for endpoint in state.endpoints_for(org.id):
        state.dispatcher.submit(endpoint, event)
    return event


def emit_disconnected(state: SimulatorState, org: Organisation) -> Event:
    """The partner app's disconnect notice: webhook only, and its id is null, as the
    maintainers confirm it can be (gocardless-pro-java#74)."""
    event = Event(
        id=None,
        created_at=state.clock.now(),
        resource_type="organisations",
        action="disconnected",
        links={"organisation": org.id},
        details=details_for("organisations", "disconnected"),
    )
    for scope in state.webhook_endpoints.values():
        if scope.organisation_id is None:
            state.dispatcher.submit(scope.endpoint, event)
    return event
