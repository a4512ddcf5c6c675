"""Fixtures for sync and webhook tests: a fully connected installation, signed webhook bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from tests.conftest import GOCARDLESS_API, ZOHO_API
from tests.foundation.conftest import (  # noqa: F401  (fixtures re-used here)
    ADMIN_USER,
    Installed,
    app,
    client,
    connect_gocardless,
    connect_zoho,
    install,
    mock_router,
)
from tests.sync.simworld import sim_world  # noqa: F401  (fixture re-used here)

WEBHOOK_SECRET = "gc-webhook-secret"
ORGANISATION = "OR000001"


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event(
    event_id: str | None,
    resource_type: str,
    action: str,
    links: dict[str, str],
    *,
    organisation: str = ORGANISATION,
    created_at: str = "2026-11-30T10:00:00.000Z",
) -> dict[str, Any]:
    return {
        "id": event_id,
        "created_at": created_at,
        "resource_type": resource_type,
        "action": action,
        "links": {**links, "organisation": organisation},
        "details": {"origin": "api", "cause": action, "description": f"{resource_type} {action}"},
        "metadata": {},
        "resource_metadata": {},
    }


def webhook(events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"events": events, "meta": {"webhook_id": "WB0001"}}).encode()
    return body, {"Webhook-Signature": sign(body), "Content-Type": "application/json"}


async def _instant(_seconds: float) -> None:
    return None


@dataclass
class Connected:
    installed: Installed
    app: FastAPI


@pytest.fixture
async def connected(app: FastAPI, client: httpx.AsyncClient) -> Connected:  # noqa: F811
    app.state.runtime.provider_sleep = _instant
    installed = await install(client)
    await connect_zoho(app, installed)
    await connect_gocardless(app, installed, organisation_id=ORGANISATION)
    return Connected(installed, app)


def gc_payment(
    payment_id: str, status: str = "pending_submission", mandate: str = "MD0001", amount: int = 1000
) -> dict[str, Any]:
    return {
        "id": payment_id,
        "created_at": "2026-11-30T09:00:00.000Z",
        "amount": amount,
        "currency": "GBP",
        "charge_date": "2026-12-05",
        "description": "Invoice INV-1",
        "reference": None,
        "status": status,
        "metadata": {},
        "links": {"mandate": mandate, "creditor": "CR000001"},
    }


def gc_mandate(mandate_id: str = "MD0001", customer: str = "CU0001") -> dict[str, Any]:
    return {
        "id": mandate_id,
        "created_at": "2026-11-29T09:00:00.000Z",
        "reference": "REF-1",
        "scheme": "bacs",
        "status": "active",
        "next_possible_charge_date": "2026-12-04",
        "metadata": {},
        "links": {"customer": customer, "creditor": "CR000001", "customer_bank_account": "BA1"},
    }


def gc_customer(customer_id: str = "CU0001", email: str = "jane@example.com") -> dict[str, Any]:
    return {
        "id": customer_id,
        "created_at": "2026-11-29T08:00:00.000Z",
        "email": email,
        "given_name": "Jane",
        "family_name": "Doe",
        "company_name": None,
        "metadata": {},
    }


@dataclass
class Providers:
    router: respx.MockRouter
    # GoCardless resources by kind and id, changeable by the test.
    gocardless: dict[str, dict[str, dict[str, Any]]]
    # What the CRM holds, by module and GoCardless id.
    crm: dict[str, dict[str, dict[str, Any]]]
    # CRM Contacts: id -> email.
    contacts: dict[str, str]
    # GoCardless's event list, oldest first: what `GET /events` answers (empty unless a test
    # lists the events it delivers).
    events: list[dict[str, Any]]

    def calls_to(self, path_part: str, method: str = "GET") -> int:
        return sum(
            1
            for call in self.router.calls
            if call.request.method == method and path_part in call.request.url.path
        )


def _not_found() -> httpx.Response:
    return httpx.Response(
        404,
        json={
            "error": {
                "type": "invalid_api_usage",
                "code": 404,
                "message": "Resource not found",
                "errors": [{"reason": "resource_not_found", "message": "not found"}],
                "request_id": "req-404",
                "documentation_url": "https://developer.gocardless.com",
            }
        },
    )


@pytest.fixture
def providers() -> Iterator[Providers]:
    """GoCardless reads and CRM upserts over in-memory state the test can inspect and change."""
    gocardless: dict[str, dict[str, dict[str, Any]]] = {
        "payments": {},
        "mandates": {"MD0001": gc_mandate()},
        "customers": {"CU0001": gc_customer()},
    }
    crm: dict[str, dict[str, dict[str, Any]]] = {}
    contacts: dict[str, str] = {}
    events: list[dict[str, Any]] = []

    def search_contacts(request: httpx.Request) -> httpx.Response:
        email = request.url.params.get("email", "").lower()
        found = [{"id": cid, "Email": e} for cid, e in contacts.items() if e.lower() == email]
        return (
            httpx.Response(200, json={"data": found, "info": {"more_records": False}})
            if found
            else httpx.Response(204)
        )

    def read(request: httpx.Request, kind: str, resource_id: str) -> httpx.Response:
        found = gocardless[kind].get(resource_id)
        return httpx.Response(200, json={kind: found}) if found else _not_found()

    def upsert(request: httpx.Request, module: str) -> httpx.Response:
        body = json.loads(request.content)
        stored = crm.setdefault(module, {})
        rows = []
        for record in body["data"]:
            key = next(
                v for k, v in record.items() if k.startswith("GoCardless_") and k.endswith("_ID")
            )
            action = "update" if key in stored else "insert"
            record_id = stored.get(key, {}).get("id") or str(4150868000001000000 + len(stored))
            stored[key] = {**record, "id": record_id}
            rows.append(
                {
                    "code": "SUCCESS",
                    "status": "success",
                    "message": "record added" if action == "insert" else "record updated",
                    "action": action,
                    "duplicate_field": None,
                    "details": {"id": record_id},
                }
            )
        return httpx.Response(200, json={"data": rows})

    def list_events(request: httpx.Request) -> httpx.Response:
        # As GoCardless: newest first, `include` only with the matching `resource_type`,
        # the current state of every resource the page names under `linked`.
        params = request.url.params
        kind, include = params.get("resource_type"), params.get("include")
        if include is not None and kind != f"{include}s":
            return httpx.Response(
                422,
                json={
                    "error": {
                        "type": "validation_failed",
                        "code": 422,
                        "message": "Validation failed",
                        "errors": [{"field": "include", "message": "must match resource_type"}],
                        "request_id": "req-422",
                        "documentation_url": "https://developer.gocardless.com",
                    }
                },
            )
        since, until = params.get("created_at[gte]"), params.get("created_at[lte]")
        listed = [
            e
            for e in reversed(events)
            if (kind is None or e["resource_type"] == kind)
            and (since is None or e["created_at"] >= since)
            and (until is None or e["created_at"] <= until)
        ]
        after = params.get("after")
        if after is not None:
            listed = listed[[e["id"] for e in listed].index(after) + 1 :]
        limit = int(params.get("limit", "50"))
        page = listed[:limit]
        more = page[-1]["id"] if len(listed) > limit else None
        body: dict[str, Any] = {
            "events": page,
            "meta": {"cursors": {"before": None, "after": more}, "limit": limit},
        }
        if include is not None:
            named = dict.fromkeys(e["links"][include] for e in page if include in e["links"])
            found = (gocardless[kind].get(rid) for rid in named)  # type: ignore[index]
            body["linked"] = {kind: [r for r in found if r is not None]}
        return httpx.Response(200, json=body)

    router = respx.mock(assert_all_called=False)
    router.get(f"{GOCARDLESS_API}/events", name="gocardless_events").mock(side_effect=list_events)
    router.get(
        url__regex=rf"{GOCARDLESS_API}/(?P<kind>payments|mandates|customers)/(?P<resource_id>\w+)$",
        name="gocardless_read",
    ).mock(side_effect=read)
    router.post(url__regex=rf"{ZOHO_API}/crm/v\d+/(?P<module>\w+)/upsert", name="crm_upsert").mock(
        side_effect=upsert
    )
    router.get(url__regex=rf"{ZOHO_API}/crm/v\d+/users/\d+", name="crm_user").respond(
        200,
        json={
            "users": [
                {
                    "id": ADMIN_USER,
                    "status": "active",
                    "profile": {"name": "Administrator", "id": "1"},
                }
            ]
        },
    )
    router.get(url__regex=rf"{ZOHO_API}/crm/v\d+/Contacts/search").mock(side_effect=search_contacts)
    router.route(host="testserver").pass_through()
    with router:
        yield Providers(router, gocardless, crm, contacts, events)
