"""Fixtures for the invoice flows: a connected installation and stateful fakes of both APIs.

The GoCardless fake keeps idempotency keys the way the API does (a repeat answers 409
`idempotent_creation_conflict` naming the original), so the tests can prove one payment per
invoice under clicks, retries and crashes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.services.identity.sessions import issue_session
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
from tests.sync.conftest import gc_customer, gc_mandate

# "Now" for the invoice rules, frozen a few days before the fakes' charge dates.
TODAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ORGANISATION = "OR000001"
INVOICE = "4150868000000700001"
CONTACT = "4150868000000500001"
NO_MANDATE_CONTACT = "4150868000000500002"


@dataclass
class FakeApis:
    router: respx.MockRouter
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    mandates: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    billing_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    crm: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    mails: list[dict[str, Any]] = field(default_factory=list)
    creates: int = 0
    # Seconds GoCardless takes to create a payment (lets concurrent clicks overlap).
    create_delay: float = 0.0
    # Fail the next N payment creates with a 500 *after* creating (the answer is lost).
    lose_answers: int = 0

    def calls(self, method: str, path_part: str) -> int:
        return sum(
            1
            for c in self.router.calls
            if c.request.method == method and path_part in c.request.url.path
        )


def _error(status: int, type_: str, reason: str, message: str, **extra: Any) -> httpx.Response:
    entry = {"reason": reason, "message": message, **extra}
    return httpx.Response(
        status,
        json={
            "error": {
                "type": type_,
                "code": status,
                "message": message,
                "errors": [entry],
                "request_id": "req-fake",
                "documentation_url": "https://developer.gocardless.com",
            }
        },
    )


def _conflict(original_id: str) -> httpx.Response:
    return _error(
        409,
        "invalid_state",
        "idempotent_creation_conflict",
        "A resource has already been created with this idempotency key",
        links={"conflicting_resource_id": original_id},
    )


@pytest.fixture
def apis() -> Iterator[FakeApis]:
    ids = itertools.count(1)
    fake = FakeApis(respx.mock(assert_all_called=False))
    fake.customers["CU0001"] = gc_customer("CU0001", "jane@example.com")
    fake.mandates["MD0001"] = gc_mandate("MD0001", "CU0001")
    fake.mandates["MDEUR1"] = {**gc_mandate("MDEUR1", "CU0001"), "scheme": "sepa_core"}
    fake.mandates["MDDEAD"] = {**gc_mandate("MDDEAD", "CU0001"), "status": "cancelled"}
    fake.customers["CU0009"] = gc_customer("CU0009", "someone.else@example.com")
    fake.mandates["MDOTHER"] = gc_mandate("MDOTHER", "CU0009")
    fake.contacts[CONTACT] = {"id": CONTACT, "Email": "Jane@Example.com", "Full_Name": "Jane Doe"}
    fake.contacts[NO_MANDATE_CONTACT] = {
        "id": NO_MANDATE_CONTACT,
        "Email": "bob@example.com",
        "Full_Name": "Bob Stone",
    }
    fake.invoices[INVOICE] = invoice_record(INVOICE, "INV-001", 120.5, "GBP", CONTACT)

    async def create_payment(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)["payments"]
        key = request.headers["idempotency-key"]
        if key in fake.keys:
            return _conflict(fake.keys[key])
        mandate = fake.mandates[body["links"]["mandate"]]
        if mandate["status"] not in ("active", "pending_submission", "submitted"):
            return _error(
                422,
                "invalid_state",
                "mandate_is_inactive",
                "Mandate is failed, cancelled or expired",
            )
        fake.creates += 1
        await asyncio.sleep(fake.create_delay)
        payment_id = f"PM{next(ids):06}"
        fake.payments[payment_id] = {
            "id": payment_id,
            "created_at": "2026-11-30T12:00:00.000Z",
            "amount": body["amount"],
            "currency": body["currency"],
            "charge_date": body.get("charge_date") or "2026-12-07",
            "description": body.get("description"),
            "reference": body.get("reference"),
            "status": "pending_submission",
            "metadata": body.get("metadata", {}),
            "links": {"mandate": mandate["id"], "creditor": "CR000001"},
        }
        fake.keys[key] = payment_id
        if fake.lose_answers:
            fake.lose_answers -= 1
            return httpx.Response(502, text="<html>bad gateway</html>")
        return httpx.Response(201, json={"payments": fake.payments[payment_id]})

    def read(request: httpx.Request, kind: str, resource_id: str) -> httpx.Response:
        store = {
            "payments": fake.payments,
            "mandates": fake.mandates,
            "customers": fake.customers,
            "billing_requests": fake.billing_requests,
            "billing_request_flows": fake.flows,
        }[kind]
        if resource_id not in store:
            return _error(404, "invalid_api_usage", "resource_not_found", "Resource not found")
        return httpx.Response(200, json={kind: store[resource_id]})

    def cancel(request: httpx.Request, payment_id: str) -> httpx.Response:
        payment = fake.payments[payment_id]
        if payment["status"] != "pending_submission":
            return _error(
                422, "invalid_state", "cancellation_failed", "This payment could not be cancelled"
            )
        payment["status"] = "cancelled"
        return httpx.Response(200, json={"payments": payment})

    def list_mandates(request: httpx.Request) -> httpx.Response:
        customer = request.url.params.get("customer")
        items = [m for m in fake.mandates.values() if m["links"]["customer"] == customer]
        return httpx.Response(
            200,
            json={
                "mandates": items,
                "meta": {"cursors": {"before": None, "after": None}, "limit": 500},
            },
        )

    def create_billing_request(request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        body = json.loads(request.content)["billing_requests"]
        if key in fake.keys:
            return _conflict(fake.keys[key])
        request_id = f"BRQ{next(ids):06}"
        fake.billing_requests[request_id] = {
            "id": request_id,
            "created_at": "2026-11-30T12:00:00.000Z",
            "status": "pending",
            "mandate_request": body["mandate_request"],
            "metadata": body.get("metadata", {}),
            "links": {**(body.get("links") or {}), "creditor": "CR000001"},
        }
        fake.keys[key] = request_id
        return httpx.Response(201, json={"billing_requests": fake.billing_requests[request_id]})

    def create_flow(request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        body = json.loads(request.content)["billing_request_flows"]
        if key in fake.keys:
            return _conflict(fake.keys[key])
        flow_id = f"BRF{next(ids):06}"
        fake.flows[flow_id] = {
            "id": flow_id,
            "created_at": "2026-11-30T12:00:00.000Z",
            "authorisation_url": f"https://pay-sandbox.gocardless.com/billing/static/flow?id={flow_id}",
            "expires_at": "2026-12-07T12:00:00.000Z",
            "redirect_uri": body["redirect_uri"],
            "exit_uri": body.get("exit_uri"),
            "lock_currency": True,
            "links": {"billing_request": body["links"]["billing_request"]},
        }
        fake.keys[key] = flow_id
        return httpx.Response(201, json={"billing_request_flows": fake.flows[flow_id]})

    def get_record(request: httpx.Request, module: str, record_id: str) -> httpx.Response:
        store = fake.invoices if module == "Invoices" else fake.contacts
        if record_id not in store:
            return httpx.Response(204)
        return httpx.Response(200, json={"data": [store[record_id]]})

    def search_contacts(request: httpx.Request) -> httpx.Response:
        email = request.url.params["email"].lower()
        found = [c for c in fake.contacts.values() if str(c.get("Email", "")).lower() == email]
        if not found:
            return httpx.Response(204)
        return httpx.Response(200, json={"data": found, "info": {"more_records": False}})

    def upsert(request: httpx.Request, module: str) -> httpx.Response:
        stored = fake.crm.setdefault(module, {})
        rows = []
        for record in json.loads(request.content)["data"]:
            key = next(
                v for k, v in record.items() if k.startswith("GoCardless_") and k.endswith("_ID")
            )
            record_id = stored.get(key, {}).get("id") or str(4150868000002000000 + len(stored))
            stored[key] = {**record, "id": record_id}
            rows.append(
                {
                    "code": "SUCCESS",
                    "status": "success",
                    "message": "ok",
                    "action": "insert",
                    "duplicate_field": None,
                    "details": {"id": record_id},
                }
            )
        return httpx.Response(200, json={"data": rows})

    def send_mail(request: httpx.Request, record_id: str) -> httpx.Response:
        fake.mails.append({"contact": record_id, **json.loads(request.content)["data"][0]})
        return httpx.Response(
            200,
            json={
                "data": [
                    {
                        "code": "SUCCESS",
                        "status": "success",
                        "message": "sent",
                        "details": {"message_id": f"m{len(fake.mails)}"},
                    }
                ]
            },
        )

    r = fake.router
    r.post(f"{GOCARDLESS_API}/payments").mock(side_effect=create_payment)
    r.post(url__regex=rf"{GOCARDLESS_API}/payments/(?P<payment_id>\w+)/actions/cancel").mock(
        side_effect=cancel
    )
    r.get(f"{GOCARDLESS_API}/mandates").mock(side_effect=list_mandates)
    r.get(url__regex=rf"{GOCARDLESS_API}/customer_bank_accounts/(?P<account_id>\w+)$").mock(
        side_effect=lambda request, account_id: httpx.Response(
            200,
            json={
                "customer_bank_accounts": {
                    "id": account_id,
                    "account_holder_name": "JANE DOE",
                    "account_number_ending": "11",
                    "bank_name": "BARCLAYS BANK PLC",
                    "currency": "GBP",
                    "links": {"customer": "CU0001"},
                }
            },
        )
    )
    r.get(
        url__regex=rf"{GOCARDLESS_API}/(?P<kind>payments|mandates|customers|billing_requests|billing_request_flows)/(?P<resource_id>\w+)$"
    ).mock(side_effect=read)
    r.post(f"{GOCARDLESS_API}/billing_requests").mock(side_effect=create_billing_request)
    r.post(f"{GOCARDLESS_API}/billing_request_flows").mock(side_effect=create_flow)
    r.get(url__regex=rf"{ZOHO_API}/crm/v\d+/Contacts/search").mock(side_effect=search_contacts)
    r.get(url__regex=rf"{ZOHO_API}/crm/v\d+/(?P<module>Invoices|Contacts)/(?P<record_id>\d+)").mock(
        side_effect=get_record
    )
    r.post(url__regex=rf"{ZOHO_API}/crm/v\d+/(?P<module>\w+)/upsert").mock(side_effect=upsert)
    r.post(url__regex=rf"{ZOHO_API}/crm/v\d+/Contacts/(?P<record_id>\d+)/actions/send_mail").mock(
        side_effect=send_mail
    )
    r.get(url__regex=rf"{ZOHO_API}/crm/v\d+/users/\d+").respond(
        200,
        json={
            "users": [
                {
                    "id": ADMIN_USER,
                    "status": "active",
                    "email": "ann@acme.example",
                    "full_name": "Ann Admin",
                    "profile": {"name": "Administrator", "id": "1"},
                }
            ]
        },
    )
    r.get(url__regex=rf"{ZOHO_API}/crm/v\d+/settings/emails/actions/from_addresses").respond(
        200,
        json={
            "from_addresses": [
                {
                    "email": "billing@acme.example",
                    "type": "org_email",
                    "default": True,
                    "user_name": "Acme Billing",
                    "id": "1",
                },
                {
                    "email": "ann@acme.example",
                    "type": "primary",
                    "default": False,
                    "user_name": "Ann Admin",
                    "id": "2",
                },
            ]
        },
    )
    r.route(host="testserver").pass_through()
    with r:
        yield fake


def invoice_record(
    invoice_id: str,
    number: str,
    total: float | str,
    currency: str,
    contact: str | None,
    contact_name: str = "Jane Doe",
) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "Invoice_Number": number,
        "Subject": f"Invoice {number}",
        "Grand_Total": total,
        "Currency": currency,
        "Contact_Name": {"id": contact, "name": contact_name} if contact else None,
    }


async def _instant(_seconds: float) -> None:
    return None


@dataclass
class Ready:
    installed: Installed
    app: FastAPI
    # A signed-in administrator's session (the sign-in itself is tested in tests/foundation).
    headers: dict[str, str]


@pytest.fixture
async def ready(app: FastAPI, client: httpx.AsyncClient, apis: FakeApis) -> Ready:  # noqa: F811
    """An installation with both accounts connected and the contact's customer in the mirror."""
    app.state.runtime.provider_sleep = _instant
    # The fakes' dates (created 2026-11-30, next possible charge 2026-12-04) are "now" here.
    app.state.runtime.clock = lambda: TODAY
    installed = await install(client, audience="all_users")
    await connect_zoho(app, installed)
    await connect_gocardless(app, installed, organisation_id=ORGANISATION)
    from app.adapters.gocardless.models import Customer, Mandate
    from app.models import SyncRun, SyncState
    from app.services.mirror import store_customers, store_mandates

    async with app.state.runtime.sessionmaker() as session, session.begin():
        now = datetime.now(UTC)
        # Invoice flows wait for Sync Now; here it has run (on an empty account).
        session.add(
            SyncRun(
                installation_id=installed.installation_id,
                state=SyncState.succeeded,
                started_at=now,
                finished_at=now,
            )
        )
        await store_customers(
            session,
            installed.installation_id,
            [Customer.model_validate(c) for c in apis.customers.values()],
            now,
        )
        await store_mandates(
            session,
            installed.installation_id,
            [Mandate.model_validate(m) for m in apis.mandates.values()],
            now,
        )
    session = issue_session(app.state.runtime, installed.installation_id, ADMIN_USER, admin=True)
    return Ready(installed, app, {"Authorization": f"Bearer {session.token}"})
