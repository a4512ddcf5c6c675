"""Billing requests, hosted flows completed through the HTML page, and their events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.simulators.gocardless.formats import parse_timestamp

from .conftest import Sim
from .test_shapes import assert_shape, body_of

REDIRECT = "https://crm.example/mandate-done"
GBP_FORM = {
    "given_name": "Grace",
    "family_name": "Hopper",
    "email": "grace@example.com",
    "address_line1": "1 Navy Way",
    "city": "London",
    "postal_code": "N1 1AA",
    "sort_code": "20-00-00",
    "account_number": "55779911",
}


async def new_request(sim: Sim, **mandate_request: Any) -> dict[str, Any]:
    body = {"mandate_request": {"currency": "GBP", **mandate_request}}
    response = await sim.client.post("/billing_requests", json={"billing_requests": body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["billing_requests"]
    return created


async def new_flow(sim: Sim, request_id: str, **fields: Any) -> dict[str, Any]:
    body = {"links": {"billing_request": request_id}, "redirect_uri": REDIRECT, **fields}
    response = await sim.client.post("/billing_request_flows", json={"billing_request_flows": body})
    assert response.status_code == 201, response.text
    flow: dict[str, Any] = response.json()["billing_request_flows"]
    return flow


async def complete(sim: Sim, flow: dict[str, Any], **form: str) -> httpx.Response:
    page = await sim.client.get(flow["authorisation_url"])
    assert page.status_code == 200
    return await sim.client.post(
        "/billing/static/flow", data={"id": flow["id"], **GBP_FORM, **form}
    )


async def request_events(sim: Sim, request_id: str) -> list[str]:
    body = (await sim.client.get("/events", params={"billing_request": request_id})).json()
    return [e["action"] for e in reversed(body["events"])]


async def test_shapes_of_requests_and_flows(sim: Sim) -> None:
    customer = next(sim.org.customers.newest_first()).id
    response = await sim.client.post(
        "/billing_requests",
        json={
            "billing_requests": {
                "mandate_request": {"currency": "GBP"},
                "links": {"customer": customer},
            }
        },
    )
    assert_shape(body_of("billing_requests", "create"), response.json())
    request_id = response.json()["billing_requests"]["id"]
    flow = await sim.client.post(
        "/billing_request_flows",
        json={"billing_request_flows": {"links": {"billing_request": request_id}}},
    )
    assert_shape(body_of("billing_request_flows", "create"), flow.json())
    flow_id = flow.json()["billing_request_flows"]["id"]
    initialised = await sim.client.post(f"/billing_request_flows/{flow_id}/actions/initialise")
    assert initialised.json()["billing_request_flows"]["session_token"].startswith("sesh_")
    assert_shape(body_of("billing_request_flows", "initialise"), initialised.json())
    assert_shape(
        body_of("billing_requests", "list"), (await sim.client.get("/billing_requests")).json()
    )
    got = await sim.client.get(f"/billing_requests/{request_id}")
    assert_shape(body_of("billing_requests", "get"), got.json())
    cancelled = await sim.client.post(f"/billing_requests/{request_id}/actions/cancel")
    assert_shape(body_of("billing_requests", "cancel"), cancelled.json())


async def test_flow_for_an_existing_customer_creates_a_mandate(sim: Sim) -> None:
    customer = next(sim.org.customers.newest_first())
    body = {"mandate_request": {"currency": "GBP"}, "links": {"customer": customer.id}}
    created = await sim.client.post("/billing_requests", json={"billing_requests": body})
    request = created.json()["billing_requests"]
    assert (request["status"], request["links"]["customer"]) == ("pending", customer.id)
    flow = await new_flow(sim, request["id"])
    assert flow["authorisation_url"] == f"http://gc.sim/billing/static/flow?id={flow['id']}"
    expires = parse_timestamp(flow["expires_at"])
    assert expires is not None and expires - sim.state.clock.now() == timedelta(days=7)

    done = await complete(sim, flow)
    assert (done.status_code, done.headers["location"]) == (303, REDIRECT)
    fulfilled = (await sim.client.get(f"/billing_requests/{request['id']}")).json()[
        "billing_requests"
    ]
    assert fulfilled["status"] == "fulfilled"
    mandate_id = fulfilled["links"]["mandate_request_mandate"]
    mandate = (await sim.client.get(f"/mandates/{mandate_id}")).json()["mandates"]
    assert mandate["links"]["customer"] == customer.id
    assert (mandate["status"], mandate["scheme"]) == ("pending_submission", "bacs")
    account = (
        await sim.client.get(f"/customer_bank_accounts/{mandate['links']['customer_bank_account']}")
    ).json()["customer_bank_accounts"]
    assert (account["account_number_ending"], account["bank_name"]) == ("11", "BARCLAYS BANK PLC")
    assert fulfilled["resources"]["customer_bank_account"]["id"] == account["id"]
    assert await request_events(sim, request["id"]) == [
        "created",
        "flow_created",
        "flow_visited",
        "collect_customer_details",
        "collect_bank_account",
        "payer_details_confirmed",
        "fulfilled",
    ]
    fulfilled_event = (
        await sim.client.get(
            "/events", params={"billing_request": request["id"], "action": "fulfilled"}
        )
    ).json()["events"][0]
    assert fulfilled_event["links"]["mandate_request_mandate"] == mandate_id
    created_event = (await sim.client.get("/events", params={"mandate": mandate_id})).json()[
        "events"
    ]
    assert [e["action"] for e in created_event] == ["created"]


async def test_new_customer_with_an_iban_and_the_mandate_activates(sim: Sim) -> None:
    request = await new_request(sim, currency="EUR")
    flow = await new_flow(sim, request["id"])
    done = await complete(sim, flow, iban="FR14 2004 1010 0505 0001 3M02 606", email="x@y.fr")
    assert done.status_code == 303
    fulfilled = (await sim.client.get(f"/billing_requests/{request['id']}")).json()[
        "billing_requests"
    ]
    customer = (await sim.client.get(f"/customers/{fulfilled['links']['customer']}")).json()[
        "customers"
    ]
    assert (customer["given_name"], customer["email"]) == ("Grace", "x@y.fr")
    mandate_id = fulfilled["links"]["mandate_request_mandate"]
    mandate = (await sim.client.get(f"/mandates/{mandate_id}")).json()["mandates"]
    assert mandate["scheme"] == "sepa_core"
    payment = await sim.client.post(
        "/payments",
        json={"payments": {"amount": 700, "currency": "EUR", "links": {"mandate": mandate_id}}},
    )
    assert payment.status_code == 201
    await sim.client.post("/_sim/clock/advance", json={"days": 10})
    events = (await sim.client.get("/events", params={"mandate": mandate_id})).json()["events"]
    assert [e["action"] for e in reversed(events)] == ["created", "submitted", "active"]


async def test_bad_bank_details_are_refused_on_the_page(sim: Sim) -> None:
    request = await new_request(sim)
    flow = await new_flow(sim, request["id"])
    refused = await complete(sim, flow, sort_code="12-34", account_number="123", email="nope")
    assert refused.status_code == 400
    for message in ("6 digits", "8 digits", "valid email"):
        assert message in refused.text
    euro = await new_flow(sim, (await new_request(sim, currency="EUR"))["id"])
    bad_iban = await complete(sim, euro, iban="FR00 1234")
    assert bad_iban.status_code == 400 and "valid IBAN" in bad_iban.text
    status = (await sim.client.get(f"/billing_requests/{request['id']}")).json()
    assert status["billing_requests"]["status"] == "pending"


async def test_cancelled_requests_expire_their_flows(sim: Sim) -> None:
    request = await new_request(sim)
    flow = await new_flow(sim, request["id"])
    cancelled = await sim.client.post(f"/billing_requests/{request['id']}/actions/cancel")
    assert cancelled.json()["billing_requests"]["status"] == "cancelled"
    assert (await sim.client.get(flow["authorisation_url"])).status_code == 410
    again = await sim.client.post(f"/billing_requests/{request['id']}/actions/cancel")
    assert again.status_code == 422
    late = await sim.client.post(
        "/billing_request_flows",
        json={"billing_request_flows": {"links": {"billing_request": request["id"]}}},
    )
    assert late.status_code == 422


async def test_flows_expire_after_seven_days(sim: Sim) -> None:
    flow = await new_flow(sim, (await new_request(sim))["id"])
    sim.state.clock.advance(timedelta(days=7, seconds=1))
    assert (await sim.client.get(flow["authorisation_url"])).status_code == 410


async def test_exit_goes_to_the_exit_uri(sim: Sim) -> None:
    request = await new_request(sim)
    flow = await new_flow(sim, request["id"], exit_uri="https://crm.example/gave-up")
    await sim.client.get(flow["authorisation_url"])
    left = await sim.client.get("/billing/static/flow/exit", params={"id": flow["id"]})
    assert left.headers["location"] == "https://crm.example/gave-up"
    assert (await request_events(sim, request["id"]))[-1] == "flow_exited"


async def test_request_validation(sim: Sim) -> None:
    unsupported = await sim.client.post(
        "/billing_requests", json={"billing_requests": {"mandate_request": {"currency": "USD"}}}
    )
    mismatch = await sim.client.post(
        "/billing_requests",
        json={"billing_requests": {"mandate_request": {"currency": "EUR", "scheme": "bacs"}}},
    )
    unknown = await sim.client.post(
        "/billing_requests", json={"billing_requests": {"mandate_request": {"colour": "red"}}}
    )
    payments = await sim.client.post(
        "/billing_requests",
        json={"billing_requests": {"payment_request": {"amount": 100, "currency": "GBP"}}},
    )
    missing_customer = await sim.client.post(
        "/billing_requests",
        json={"billing_requests": {"mandate_request": {}, "links": {"customer": "CU0NOPE"}}},
    )
    assert [
        r.status_code for r in (unsupported, mismatch, unknown, payments, missing_customer)
    ] == [
        422,
        422,
        400,
        422,
        400,
    ]
    pointer = unknown.json()["error"]["errors"][0]["request_pointer"]
    assert pointer == "/billing_requests/mandate_request"


async def test_payer_chooses_the_currency_when_none_is_given(sim: Sim) -> None:
    request = await new_request(sim, currency=None)
    assert request["mandate_request"]["currency"] is None
    flow = await new_flow(sim, request["id"])
    done = await complete(sim, flow, currency="GBP")
    assert done.status_code == 303
    fulfilled = (await sim.client.get(f"/billing_requests/{request['id']}")).json()
    assert fulfilled["billing_requests"]["mandate_request"]["currency"] == "GBP"


async def _form_page(sim: Sim, **mandate_request: Any) -> str:
    request = await new_request(sim, **mandate_request)
    flow = await new_flow(sim, request["id"])
    page = await sim.client.get(flow["authorisation_url"])
    assert page.status_code == 200
    return page.text


async def test_the_form_asks_only_for_the_bank_details_of_the_currencies_on_offer(
    sim: Sim,
) -> None:
    gbp = await _form_page(sim, currency="GBP")
    assert "name='sort_code'" in gbp and "name='account_number'" in gbp
    assert "IBAN" not in gbp and "name='iban'" not in gbp
    eur = await _form_page(sim, currency="EUR")
    assert "name='iban'" in eur and "Sort code" not in eur


async def test_the_simulator_has_a_favicon(sim: Sim) -> None:
    icon = await sim.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert "ratelimit-limit" not in icon.headers  # not an API call


async def test_with_the_currency_left_to_the_payer_only_the_chosen_ones_fields_show(
    sim: Sim,
) -> None:
    both = await _form_page(sim, currency=None)
    assert "<fieldset data-currency='GBP'>" in both
    assert "<fieldset data-currency='EUR' hidden>" in both
    assert "showBank" in both  # switching the currency switches the fields
