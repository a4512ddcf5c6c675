"""Contract-shaped bodies of the widget endpoints (CONTRACT.md, "Widget endpoints")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

ORG_ID = "60012345678"
USER_ID = "4150868000000225013"
# What the sign-in hands the widget (the page keeps it in sessionStorage for the tab).
SESSION = {
    "token": "session-token-for-the-widget-tests",
    "expires_at": "2099-01-01T00:00:00Z",
    "user_id": USER_ID,
    "installation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
}
SESSION_TOKEN = SESSION["token"]
INVOICE_ID = "4150868000000624001"

# The `snapshot` fixture: saves a picture of the page under a name.
Snapshot = Callable[[str], None]
MANDATES_PATH = f"/api/v1/invoices/{INVOICE_ID}/mandates"
PAYMENTS_PATH = f"/api/v1/invoices/{INVOICE_ID}/payments"
MANDATE_REQUESTS_PATH = f"/api/v1/invoices/{INVOICE_ID}/mandate-requests"


def mandate(
    id: str, *, scheme: str = "bacs", currency: str = "GBP", status: str = "active"
) -> dict[str, Any]:
    return {
        "id": id,
        "scheme": scheme,
        "currency": currency,
        "status": status,
        "reference": f"REF-{id[-4:]}",
        "usable": status in {"active", "pending_submission", "submitted"},
    }


# What the service says a payment of each status means for its invoice (a failed one's
# standing depends on GoCardless: "retryable", "retry_pending" or "over").
STANDINGS = {
    "pending_customer_approval": "holds",
    "pending_submission": "holds",
    "submitted": "holds",
    "confirmed": "holds",
    "paid_out": "holds",
    "cancelled": "over",
    "customer_approval_denied": "over",
    "failed": "over",
    "charged_back": "charged_back",
}


def payment(
    id: str = "PM0001XYZ",
    *,
    status: str = "pending_submission",
    amount: int = 12050,
    standing: str | None = None,
    standing_reason: str = "the payment is collecting this invoice",
) -> dict[str, Any]:
    return {
        "id": id,
        "status": status,
        "amount": amount,
        "currency": "GBP",
        "charge_date": "2026-12-07",
        "mandate_id": "MD0001AAAA",
        "invoice_id": INVOICE_ID,
        "reference": "INV-00042",
        "standing": standing or STANDINGS[status],
        "standing_reason": standing_reason,
    }


def overview(
    mandates: list[dict[str, Any]] | None = None,
    payments: list[dict[str, Any]] | None = None,
    *,
    total: str = "120.50",
) -> dict[str, Any]:
    return {
        "invoice": {
            "id": INVOICE_ID,
            "number": "INV-00042",
            "total": total,
            "currency": "GBP",
            "contact": {
                "id": "4150868000000500001",
                "name": "Jane Doe",
                "email": "jane@example.com",
            },
        },
        "customer": {"id": "CU0001ABCD"} if mandates else None,
        "mandates": mandates or [],
        "payments": payments or [],
    }


def installation(
    *, zoho: bool = True, gocardless: bool = True, state: str = "not_started"
) -> dict[str, Any]:
    return {
        "installation_id": "0b5f9a64-51b5-4c4f-9a57-2f4c1c1ee001",
        "audience": "admins",
        "profile_ids": [],
        "zoho": {
            "connected": zoho,
            "org_id": "60012345678" if zoho else None,
            "status": "connected" if zoho else "not_connected",
            "authorize_url": "http://service.test/oauth/zoho/start?link=signed-zoho",
        },
        "gocardless": {
            "connected": gocardless,
            "environment": "sandbox",
            "organisation_id": "OR0001" if gocardless else None,
            "creditor_id": "CR0001" if gocardless else None,
            "verification_status": "successful" if gocardless else None,
            "active": gocardless,
            "status": "connected" if gocardless else "not_connected",
            "inactive_reason": None,
            "authorize_url": "http://service.test/oauth/gocardless/start?link=signed-gc",
        },
        "sync": sync(state, can_sync_now=zoho and gocardless and state == "not_started"),
    }


def sync(
    state: str,
    *,
    can_sync_now: bool = False,
    customers: int = 0,
    payments: int = 0,
    progress: float = 0.0,
) -> dict[str, Any]:
    return {
        "state": state,
        "can_sync_now": can_sync_now,
        "customers_synced": customers,
        "payments_synced": payments,
        "progress": progress,
    }


def chain(
    name: str,
    resource: str,
    *,
    listed: int,
    done: bool = False,
    pages_left: int | None = 0,
    created_from: str | None = None,
    created_before: str | None = None,
) -> dict[str, Any]:
    """One listing chain of a running Sync Now, as `sync.chains` reports it."""
    return {
        "name": name,
        "resource": resource,
        "created_from": created_from,
        "created_before": created_before,
        "listed": listed,
        "pages": -(-listed // 500),
        "pages_left": 0 if done else pages_left,
        "done": done,
    }


def invoice_url(widget_url: str, **params: str) -> str:
    """The popup as the demo opens it: invoice and org in the query, no credential."""
    query = urlencode({"invoice_id": INVOICE_ID, "org_id": ORG_ID, **params})
    return f"{widget_url}/app/widget.html?{query}"


def settings_url(widget_url: str, **params: str) -> str:
    query = urlencode({"org_id": ORG_ID, **params})
    return f"{widget_url}/app/settings.html?{query}"
