from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import respx

from app.adapters.gocardless import (
    GoCardlessClient,
    GoCardlessError,
    GoCardlessInvalidState,
    GoCardlessValidationFailed,
)
from app.adapters.http import USER_AGENT
from tests.adapters.gocardless.conftest import fixture_body, fixture_json


def _sent_json(route: respx.Route, call: int = -1) -> Any:
    return json.loads(route.calls[call].request.content)


def _payments_page(ids: list[str], after: str | None) -> dict[str, Any]:
    """The fixture's list body with our ids and cursor, every other field as shipped."""
    body = copy.deepcopy(fixture_body("payments", "list"))
    template = body["payments"][0]
    body["payments"] = [{**template, "id": payment_id} for payment_id in ids]
    body["meta"]["cursors"]["after"] = after
    return body


async def test_get_sends_the_required_headers(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.get("/payments/PM123").respond(200, json=fixture_body("payments", "get"))
    payment = await client.get_payment("PM123")
    headers = route.calls.last.request.headers
    assert headers["Authorization"] == "Bearer sandbox_token"
    assert headers["GoCardless-Version"] == "2015-07-06"
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Accept"] == "application/json"
    assert "Idempotency-Key" not in headers
    assert (payment.id, payment.amount, payment.currency, payment.status) == (
        "PM123",
        1000,
        "EUR",
        "submitted",
    )
    assert payment.charge_date == date(2014, 5, 21)
    assert payment.created_at == datetime(2014, 1, 1, 12, tzinfo=UTC)
    assert payment.links.mandate == "MD123"


async def test_unknown_fields_are_dropped_from_resources_and_kept_on_events(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    body = fixture_body("payments", "get")
    body["payments"] = {**body["payments"], "brand_new_field": {"x": 1}}
    body["payments"]["links"] = {**body["payments"]["links"], "brand_new_link": "XX1"}
    api.get("/payments/PM123").respond(200, json=body)
    payment = await client.get_payment("PM123")
    # Not rejected: a field GoCardless adds tomorrow must not break today's sync. Dropped:
    # nothing reads them, and keeping them cost a third of a page's parsing.
    assert payment.id == "PM123"
    assert not payment.model_extra
    assert not payment.links.model_extra

    event_body = fixture_body("events", "get")
    event_body["events"] = {**event_body["events"], "brand_new_field": {"x": 1}}
    event_body["events"]["links"] = {**event_body["events"]["links"], "brand_new_link": "XX1"}
    api.get("/events/EV123").respond(200, json=event_body)
    event = await client.get_event("EV123")
    # An event is stored as it came (the inbox keeps its payload).
    dumped = event.model_dump(mode="json")
    assert dumped["brand_new_field"] == {"x": 1}
    assert dumped["links"]["brand_new_link"] == "XX1"


@pytest.mark.parametrize(
    ("resource", "method_name", "resource_id"),
    [
        ("creditors", "get_creditor", "CR123"),
        ("customers", "get_customer", "CU123"),
        ("mandates", "get_mandate", "MD123"),
        ("refunds", "get_refund", "RF123"),
        ("payouts", "get_payout", "PO123"),
        ("events", "get_event", "EV123"),
        ("billing_requests", "get_billing_request", "BRQ123"),
    ],
)
async def test_every_resource_parses_its_fixture(
    client: GoCardlessClient,
    api: respx.MockRouter,
    resource: str,
    method_name: str,
    resource_id: str,
) -> None:
    api.get(f"/{resource}/{resource_id}").respond(200, json=fixture_body(resource, "get"))
    item = await getattr(client, method_name)(resource_id)
    assert item.id == resource_id


async def test_typed_fields_of_the_other_resources(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    api.get("/creditors/CR123").respond(200, json=fixture_body("creditors", "get"))
    api.get("/customers/CU123").respond(200, json=fixture_body("customers", "get"))
    api.get("/mandates/MD123").respond(200, json=fixture_body("mandates", "get"))
    api.get("/billing_requests/BRQ123").respond(200, json=fixture_body("billing_requests", "get"))
    creditor = await client.get_creditor("CR123")
    assert creditor.verification_status == "action_required"
    assert not creditor.verified
    assert creditor.can_create_refunds is False
    assert creditor.scheme_identifiers[0].scheme == "bacs"
    customer = await client.get_customer("CU123")
    assert customer.display_name == "Hamilton Trading Ltd."
    assert customer.email == "user@example.com"
    mandate = await client.get_mandate("MD123")
    assert (mandate.scheme, mandate.currency, mandate.status) == (
        "bacs",
        "GBP",
        "pending_submission",
    )
    assert mandate.next_possible_charge_date == date(2014, 10, 27)
    assert mandate.links.customer == "CU123"
    billing_request = await client.get_billing_request("BRQ123")
    assert billing_request.links.mandate_request_mandate == "MD123"
    assert billing_request.mandate_request is not None
    assert billing_request.mandate_request.currency == "GBP"


async def test_ids_stay_inside_one_path_segment(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.get(url__regex=r".*").respond(200, json=fixture_body("mandates", "get"))
    await client.get_mandate("../creditors")
    assert route.calls.last.request.url.raw_path == b"/mandates/..%2Fcreditors"
    with pytest.raises(ValueError, match="id is required"):
        await client.get_mandate("")


async def test_list_page_sends_limit_cursor_and_filters(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.get("/mandates").respond(200, json=fixture_body("mandates", "list"))
    page = await client.list_mandates_page(
        "cursor-7",
        customer="CU123",
        status=["active", "submitted"],
        scheme=None,
        created_at__gte="2024-01-01T00:00:00Z",
        charge_date__lt="2024-02-01",
    )
    assert dict(route.calls.last.request.url.params) == {
        "limit": "500",
        "after": "cursor-7",
        "customer": "CU123",
        "status": "active,submitted",
        "created_at[gte]": "2024-01-01T00:00:00Z",
        "charge_date[lt]": "2024-02-01",
    }
    assert [m.id for m in page.items] == ["MD123", "MD123"]
    assert page.after == "example after 101"


async def test_first_page_has_no_cursor(client: GoCardlessClient, api: respx.MockRouter) -> None:
    route = api.get("/events").respond(200, json=fixture_body("events", "list"))
    page = await client.list_events_page(None, limit=50)
    assert dict(route.calls.last.request.url.params) == {"limit": "50"}
    assert page.items[0].links.organisation == "OR123"


@pytest.mark.parametrize("limit", [0, 501])
async def test_limit_is_bounded(client: GoCardlessClient, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await client.list_payments_page(None, limit=limit)


@pytest.mark.parametrize(
    ("resource", "method_name"),
    [
        ("customers", "list_customers_page"),
        ("refunds", "list_refunds_page"),
        ("billing_requests", "list_billing_requests_page"),
        ("payments", "list_payments_page"),
    ],
)
async def test_every_list_page_parses_its_fixture(
    client: GoCardlessClient, api: respx.MockRouter, resource: str, method_name: str
) -> None:
    api.get(f"/{resource}").respond(200, json=fixture_body(resource, "list"))
    page = await getattr(client, method_name)(None)
    assert len(page.items) == 2
    assert page.after == "example after 101"


async def test_iteration_follows_cursors_across_pages(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    pages = {
        None: _payments_page(["PM1", "PM2"], "c1"),
        "c1": _payments_page(["PM3", "PM4"], "c2"),
        "c2": _payments_page(["PM5"], "c3"),
        "c3": _payments_page(["PM6"], None),
    }
    route = api.get("/payments").mock(
        side_effect=lambda request: httpx.Response(200, json=pages[request.url.params.get("after")])
    )
    ids = [payment.id async for payment in client.iter_payments(mandate="MD123")]
    assert ids == ["PM1", "PM2", "PM3", "PM4", "PM5", "PM6"]
    sent = [call.request.url.params for call in route.calls]
    assert [p.get("after") for p in sent] == [None, "c1", "c2", "c3"]
    assert {p["mandate"] for p in sent} == {"MD123"}
    assert {p["limit"] for p in sent} == {"500"}


@pytest.mark.parametrize(
    ("resource", "method_name"),
    [
        ("customers", "iter_customers"),
        ("mandates", "iter_mandates"),
        ("refunds", "iter_refunds"),
        ("events", "iter_events"),
        ("billing_requests", "iter_billing_requests"),
    ],
)
async def test_every_iterator_stops_on_the_last_page(
    client: GoCardlessClient, api: respx.MockRouter, resource: str, method_name: str
) -> None:
    last = copy.deepcopy(fixture_body(resource, "list"))
    last["meta"]["cursors"]["after"] = None
    api.get(f"/{resource}").respond(200, json=last)
    items = [item async for item in getattr(client, method_name)()]
    assert len(items) == 2


async def test_a_cursor_that_does_not_advance_is_an_error(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    api.get("/payments").respond(200, json=_payments_page(["PM1"], "same"))
    with pytest.raises(GoCardlessError, match="cursor did not advance"):
        async for _ in client.iter_payments():
            pass


async def test_list_creditors_reads_every_page(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    last = copy.deepcopy(fixture_body("creditors", "list"))
    last["meta"]["cursors"]["after"] = None
    api.get("/creditors", params={"after": "c1"}).respond(200, json=last)
    first = copy.deepcopy(fixture_body("creditors", "list"))
    first["meta"]["cursors"]["after"] = "c1"
    api.get("/creditors").respond(200, json=first)
    creditors = await client.list_creditors()
    assert len(creditors) == 4


async def test_create_payment_sends_the_key_and_the_wrapped_body(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.post("/payments").respond(201, json=fixture_body("payments", "create"))
    payment, created = await client.create_payment(
        amount=1000,
        currency="EUR",
        mandate_id="MD123",
        idempotency_key="zoho:org1:inv9:payment:v1",
        charge_date=date(2014, 5, 21),
        description="Invoice INV-9",
        metadata={"zoho_invoice_id": "inv9"},
    )
    assert created is True
    assert payment.id == "PM123"
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "zoho:org1:inv9:payment:v1"
    assert _sent_json(route) == {
        "payments": {
            "amount": 1000,
            "currency": "EUR",
            "links": {"mandate": "MD123"},
            "charge_date": "2014-05-21",
            "description": "Invoice INV-9",
            "metadata": {"zoho_invoice_id": "inv9"},
        }
    }


@pytest.mark.parametrize("amount", [0, -5, True])
async def test_create_payment_refuses_a_non_positive_amount(
    client: GoCardlessClient, api: respx.MockRouter, amount: int
) -> None:
    route = api.post("/payments")
    with pytest.raises(ValueError, match="positive integer"):
        await client.create_payment(
            amount=amount, currency="GBP", mandate_id="MD1", idempotency_key="k"
        )
    assert not route.called


async def test_create_needs_an_idempotency_key(client: GoCardlessClient) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        await client.create_payment(amount=1, currency="GBP", mandate_id="MD1", idempotency_key="")


async def test_idempotency_conflict_returns_the_original(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    api.post("/payments").respond(409, json=fixture_json("idempotent_creation_conflict_error.json"))
    original = fixture_body("payments", "get")
    original["payments"] = {**original["payments"], "id": "PM00001078ZJJN"}
    get = api.get("/payments/PM00001078ZJJN").respond(200, json=original)
    payment, created = await client.create_payment(
        amount=1000, currency="EUR", mandate_id="MD123", idempotency_key="k1"
    )
    assert created is False
    assert payment.id == "PM00001078ZJJN"
    assert get.call_count == 1


async def test_other_invalid_state_errors_are_raised(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    api.post("/payments").respond(422, json=fixture_json("invalid_state_error.json"))
    with pytest.raises(GoCardlessInvalidState) as caught:
        await client.create_payment(amount=1, currency="GBP", mandate_id="MD1", idempotency_key="k")
    assert caught.value.reasons == ["mandate_not_inactive"]


async def test_validation_errors_are_raised(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    api.post("/payments").respond(422, json=fixture_json("validation_failed_error.json"))
    with pytest.raises(GoCardlessValidationFailed):
        await client.create_payment(amount=1, currency="GBP", mandate_id="MD1", idempotency_key="k")


async def test_cancel_payment_uses_the_action_envelope(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.post("/payments/PM123/actions/cancel").respond(
        200, json=fixture_body("payments", "cancel")
    )
    payment = await client.cancel_payment("PM123", metadata={"cancelled_by": "zoho-user-1"})
    assert payment.id == "PM123"
    assert _sent_json(route) == {"data": {"metadata": {"cancelled_by": "zoho-user-1"}}}
    assert "Idempotency-Key" not in route.calls.last.request.headers
    await client.cancel_payment("PM123")
    assert _sent_json(route) == {"data": {}}


async def test_create_billing_request_for_a_mandate(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.post("/billing_requests").respond(
        201, json=fixture_body("billing_requests", "create")
    )
    billing_request, created = await client.create_billing_request(
        currency="GBP",
        customer_id="CU123",
        idempotency_key="zoho:org1:inv9:mandate-request:v1",
        description="Direct Debit for Acme invoices",
        metadata={"zoho_contact_id": "c1"},
    )
    assert created
    assert billing_request.id == "BRQ123"
    assert (
        route.calls.last.request.headers["Idempotency-Key"] == "zoho:org1:inv9:mandate-request:v1"
    )
    assert _sent_json(route) == {
        "billing_requests": {
            "mandate_request": {"currency": "GBP", "description": "Direct Debit for Acme invoices"},
            "links": {"customer": "CU123"},
            "metadata": {"zoho_contact_id": "c1"},
        }
    }


async def test_billing_request_without_a_customer(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.post("/billing_requests").respond(
        201, json=fixture_body("billing_requests", "create")
    )
    await client.create_billing_request(currency="EUR", customer_id=None, idempotency_key="k")
    assert _sent_json(route) == {"billing_requests": {"mandate_request": {"currency": "EUR"}}}


async def test_create_billing_request_flow(client: GoCardlessClient, api: respx.MockRouter) -> None:
    route = api.post("/billing_request_flows").respond(
        201, json=fixture_body("billing_request_flows", "create")
    )
    flow, created = await client.create_billing_request_flow(
        billing_request_id="BRQ123",
        redirect_uri="https://us.example/done",
        exit_uri=None,
        idempotency_key="k-flow",
        prefilled_customer={"email": "payer@example.com"},
    )
    assert created
    assert flow.authorisation_url == "https://monzo.com/abc-123-things"
    assert flow.expires_at == datetime(2024, 1, 15, 10, tzinfo=UTC)
    assert flow.links.billing_request == "BRQ123"
    assert _sent_json(route) == {
        "billing_request_flows": {
            "links": {"billing_request": "BRQ123"},
            "redirect_uri": "https://us.example/done",
            "prefilled_customer": {"email": "payer@example.com"},
            "lock_currency": True,
        }
    }


async def test_billing_request_flow_conflict(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    conflict = fixture_json("idempotent_creation_conflict_error.json")
    conflict["error"]["errors"][0]["links"]["conflicting_resource_id"] = "BRQ123"
    api.post("/billing_requests").respond(409, json=conflict)
    api.get("/billing_requests/BRQ123").respond(200, json=fixture_body("billing_requests", "get"))
    billing_request, created = await client.create_billing_request(
        currency="GBP", customer_id=None, idempotency_key="k"
    )
    assert (billing_request.id, created) == ("BRQ123", False)


async def test_cancel_billing_request(client: GoCardlessClient, api: respx.MockRouter) -> None:
    route = api.post("/billing_requests/BRQ123/actions/cancel").respond(
        200, json=fixture_body("billing_requests", "cancel")
    )
    billing_request = await client.cancel_billing_request("BRQ123")
    assert billing_request.id == "BRQ123"
    assert _sent_json(route) == {"data": {}}


async def test_an_unexpected_success_body_is_an_error(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    api.get("/payments/PM1").respond(
        200, text="<html>maintenance</html>", headers={"x-request-id": "r1"}
    )
    with pytest.raises(GoCardlessError, match="unexpected GET /payments/PM1") as caught:
        await client.get_payment("PM1")
    assert caught.value.body_preview == "<html>maintenance</html>"
    assert caught.value.request_id == "r1"
    assert not caught.value.transient


async def test_an_events_page_brings_the_linked_resources(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.get("/events").respond(200, json=fixture_body("events", "list"))
    page = await client.list_events_page_including(
        "cursor-1", resource_type="payments", include="payment", created_at__gte="2024-01-01"
    )
    assert dict(route.calls.last.request.url.params) == {
        "limit": "500",
        "after": "cursor-1",
        "resource_type": "payments",
        "include": "payment",
        "created_at[gte]": "2024-01-01",
    }
    assert [event.id for event in page.items] == ["EV123", "EV123"]
    assert page.after == "example after 101"
    linked = page.linked
    assert [p.id for p in linked.payments] == ["PM123"]
    assert linked.payments[0].links.mandate == "MD123"
    assert [m.id for m in linked.mandates] == ["MD123"]
    assert [c.id for c in linked.customers] == ["CU123"]
    assert [r.id for r in linked.refunds] == ["RF123"]
    assert linked.creditors[0].id == "CR123"
    assert linked.billing_requests[0].id == "BRQ123"
    # Kinds we do not mirror (payouts here) are not rejected.


async def test_an_events_page_without_linked_resources_has_none(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    body = copy.deepcopy(fixture_body("events", "list"))
    del body["linked"]
    body["meta"]["cursors"]["after"] = None
    api.get("/events").respond(200, json=body)
    page = await client.list_events_page_including(
        None, resource_type="mandates", include="mandate", limit=10
    )
    assert (page.linked.mandates, page.linked.payments, page.after) == ([], [], None)


async def test_include_needs_a_resource_type(client: GoCardlessClient) -> None:
    with pytest.raises(ValueError, match="resource_type"):
        await client.list_events_page_including(None, resource_type="", include="payment")
