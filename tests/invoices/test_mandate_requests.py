"""The setup-link email when the contact has no usable mandate, and what happens on fulfilment."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.models import SetupEmail
from app.services.events import process_due_events
from tests.invoices.conftest import (
    INVOICE,
    NO_MANDATE_CONTACT,
    FakeApis,
    Ready,
    gc_customer,
    gc_mandate,
    invoice_record,
)
from tests.sync.conftest import event, webhook

REQUESTS = f"/api/v1/invoices/{INVOICE}/mandate-requests"


def bob_invoice(apis: FakeApis, currency: str = "GBP") -> None:
    apis.invoices[INVOICE] = invoice_record(
        INVOICE, "INV-002", "75.00", currency, NO_MANDATE_CONTACT, "Bob Stone"
    )


async def test_setup_link_is_emailed_from_the_requesting_user(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    bob_invoice(apis)
    response = await client.post(REQUESTS, headers=ready.headers)
    assert response.status_code == 201, response.text
    request = response.json()["mandate_request"]
    assert request["email_sent_to"] == "bob@example.com" and request["status"] == "pending"
    [billing_request] = apis.billing_requests.values()
    assert billing_request["mandate_request"] == {
        "currency": "GBP",
        "description": "Direct Debit for invoice INV-002",
    }
    assert billing_request["metadata"] == {
        "zoho_contact_id": NO_MANDATE_CONTACT,
        "zoho_invoice_id": INVOICE,
        "zoho_org_id": "60012345678",
    }
    assert "customer" not in billing_request["links"]
    [flow] = apis.flows.values()
    assert request["authorisation_url"] == flow["authorisation_url"]
    assert flow["redirect_uri"] == "http://testserver/mandate-setup/complete"
    [mail] = apis.mails
    assert mail["contact"] == NO_MANDATE_CONTACT
    assert mail["from"]["email"] == "ann@acme.example"
    assert mail["to"] == [{"email": "bob@example.com", "user_name": "Bob Stone"}]
    assert "INV-002" in mail["subject"]
    # The amount as the widget writes it, and the link twice: a button and the plain address.
    assert "£75.00" in mail["content"] and "Acme Ltd" in mail["content"]
    assert mail["content"].count(f'href="{flow["authorisation_url"].replace("&", "&amp;")}"') == 2
    # The popup shows the pending request.
    popup = await client.get(f"/api/v1/invoices/{INVOICE}/mandates", headers=ready.headers)
    assert popup.json()["mandate_request"]["id"] == request["id"]
    assert popup.json()["mandates"] == []


async def test_asking_again_resends_the_same_link(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    bob_invoice(apis)
    first = (await client.post(REQUESTS, headers=ready.headers)).json()["mandate_request"]
    later(ready, minutes=10)
    second = (await client.post(REQUESTS, headers=ready.headers)).json()["mandate_request"]
    assert first == second
    assert len(apis.billing_requests) == 1 and len(apis.flows) == 1 and len(apis.mails) == 2


def later(ready: Ready, **elapsed: float) -> None:
    runtime = ready.app.state.runtime
    now = runtime.clock()
    runtime.clock = lambda: now + timedelta(**elapsed)


async def test_the_same_invoice_is_emailed_at_most_once_in_ten_minutes(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    bob_invoice(apis)
    assert (await client.post(REQUESTS, headers=ready.headers)).status_code == 201
    later(ready, minutes=4)
    again = await client.post(REQUESTS, headers=ready.headers)
    assert again.status_code == 429, again.text
    assert again.json()["code"] == "too_many_requests"
    assert again.headers["retry-after"] == "360"
    assert len(apis.mails) == 1
    later(ready, minutes=6)
    assert (await client.post(REQUESTS, headers=ready.headers)).status_code == 201
    assert len(apis.mails) == 2


async def test_an_installation_sends_at_most_50_setup_emails_an_hour(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    bob_invoice(apis)
    now = ready.app.state.runtime.clock()
    async with ready.app.state.runtime.sessionmaker() as session, session.begin():
        for minute in range(50):
            session.add(
                SetupEmail(
                    installation_id=ready.installed.installation_id,
                    invoice_id=str(1000 + minute),
                    sent_at=now - timedelta(minutes=59 - minute, seconds=30),
                )
            )
    refused = await client.post(REQUESTS, headers=ready.headers)
    assert refused.status_code == 429, refused.text
    # The oldest of the hour's emails ages out in 30 seconds.
    assert refused.headers["retry-after"] == "30"
    assert apis.mails == [] and apis.billing_requests == {}
    later(ready, seconds=31)
    assert (await client.post(REQUESTS, headers=ready.headers)).status_code == 201


async def test_existing_customer_is_linked(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    # Jane has a GoCardless customer: the new mandate should join it.
    response = await client.post(REQUESTS, headers=ready.headers)
    assert response.status_code == 201
    [billing_request] = apis.billing_requests.values()
    assert billing_request["links"]["customer"] == "CU0001"


async def test_contact_without_email(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    bob_invoice(apis)
    apis.contacts[NO_MANDATE_CONTACT]["Email"] = None
    response = await client.post(REQUESTS, headers=ready.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "contact_has_no_email"
    assert response.json()["detail"].startswith("Bob Stone has no email address")
    assert apis.billing_requests == {}


async def test_mail_failure_is_reported_and_a_retry_reuses_the_request(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    bob_invoice(apis)
    mail_route = next(r for r in apis.router.routes if "send_mail" in str(r.pattern))
    mail_route.side_effect = None
    mail_route.return_value = httpx.Response(
        400, json={"code": "INVALID_DATA", "details": {}, "message": "bad from", "status": "error"}
    )
    failed = await client.post(REQUESTS, headers=ready.headers)
    assert failed.status_code == 502 and "could not be emailed" in failed.json()["detail"]
    mail_route.return_value = httpx.Response(
        200,
        json={"data": [{"code": "SUCCESS", "status": "success", "details": {"message_id": "m1"}}]},
    )
    assert (await client.post(REQUESTS, headers=ready.headers)).status_code == 201
    assert len(apis.billing_requests) == 1


async def fulfil(client: httpx.AsyncClient, ready: Ready, apis: FakeApis) -> str:
    """The customer completes the hosted flow: GoCardless creates them and fires `fulfilled`."""
    [request_id] = apis.billing_requests
    apis.customers["CU0BOB"] = gc_customer("CU0BOB", "bob@example.com")
    apis.mandates["MD0BOB"] = gc_mandate("MD0BOB", "CU0BOB")
    apis.billing_requests[request_id] |= {
        "status": "fulfilled",
        "links": {"customer": "CU0BOB", "mandate_request_mandate": "MD0BOB"},
    }
    body, headers = webhook(
        [event("EVBR1", "billing_requests", "fulfilled", {"billing_request": request_id})]
    )
    assert (
        await client.post("/webhooks/gocardless", content=body, headers=headers)
    ).status_code == 204
    await process_due_events(ready.app.state.runtime)
    return request_id


async def test_new_mandate_appears_in_the_popup(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    bob_invoice(apis)
    await client.post(REQUESTS, headers=ready.headers)
    await fulfil(client, ready, apis)
    popup = (await client.get(f"/api/v1/invoices/{INVOICE}/mandates", headers=ready.headers)).json()
    assert popup["customer"] == {"id": "CU0BOB"}
    assert [(m["id"], m["usable"]) for m in popup["mandates"]] == [("MD0BOB", True)]
    assert popup["mandate_request"] is None
    assert apis.creates == 0


async def test_auto_collect_creates_the_payment_on_fulfilment(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    bob_invoice(apis)
    setting = await client.patch(
        "/api/v1/installation", headers=ready.headers, json={"auto_collect_on_mandate": True}
    )
    assert setting.status_code == 200 and setting.json()["auto_collect_on_mandate"] is True
    await client.post(REQUESTS, headers=ready.headers)
    await fulfil(client, ready, apis)
    assert apis.creates == 1
    [payment] = apis.payments.values()
    assert payment["links"]["mandate"] == "MD0BOB" and payment["amount"] == 7500
    popup = (await client.get(f"/api/v1/invoices/{INVOICE}/mandates", headers=ready.headers)).json()
    assert [p["id"] for p in popup["payments"]] == [payment["id"]]
