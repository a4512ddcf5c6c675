"""Every answer we rely on has the shape of the official client's fixture for that call."""

from __future__ import annotations

from typing import Any

import pytest

from app.simulators.common import FaultConfig, FaultKind
from app.simulators.gocardless.resources import Refund

from .conftest import Sim, fixture
from .shapes import shape_problems

# Events carry these only for some integrators and sources.
EVENT_OPTIONAL = frozenset({"customer_notifications", "source"})


def assert_shape(expected: Any, actual: Any, may_omit: frozenset[str] = frozenset()) -> None:
    assert shape_problems(expected, actual, may_omit=may_omit) == []


def body_of(resource: str, method: str) -> Any:
    return fixture(f"{resource}.json")[method]["body"]


async def test_creditors(sim: Sim) -> None:
    listed = (await sim.client.get("/creditors")).json()
    assert_shape(body_of("creditors", "list"), listed)
    got = (await sim.client.get(f"/creditors/{sim.org.creditor.id}")).json()
    assert_shape(body_of("creditors", "get"), got)


async def test_customers(sim: Sim) -> None:
    created = await sim.client.post(
        "/customers",
        json={"customers": {"given_name": "Ada", "family_name": "Lovelace", "email": "a@b.co"}},
    )
    assert created.status_code == 201
    assert_shape(body_of("customers", "create"), created.json())
    customer_id = created.json()["customers"]["id"]
    assert_shape(body_of("customers", "list"), (await sim.client.get("/customers")).json())
    got = await sim.client.get(f"/customers/{customer_id}")
    assert_shape(body_of("customers", "get"), got.json())
    updated = await sim.client.put(
        f"/customers/{customer_id}", json={"customers": {"metadata": {"zoho_id": "1"}}}
    )
    assert_shape(body_of("customers", "update"), updated.json())


async def test_customer_bank_accounts(sim: Sim) -> None:
    listed = (await sim.client.get("/customer_bank_accounts")).json()
    assert listed["customer_bank_accounts"]
    assert_shape(body_of("customer_bank_accounts", "list"), listed)
    account_id = listed["customer_bank_accounts"][0]["id"]
    got = (await sim.client.get(f"/customer_bank_accounts/{account_id}")).json()
    assert_shape(body_of("customer_bank_accounts", "get"), got)


async def test_mandates(sim: Sim) -> None:
    assert_shape(body_of("mandates", "list"), (await sim.client.get("/mandates")).json())
    mandate_id = sim.mandate()
    got = (await sim.client.get(f"/mandates/{mandate_id}")).json()
    assert_shape(body_of("mandates", "get"), got)
    cancelled = (await sim.client.post(f"/mandates/{mandate_id}/actions/cancel")).json()
    assert_shape(body_of("mandates", "cancel"), cancelled)


async def test_payments(sim: Sim) -> None:
    created = await sim.client.post(
        "/payments",
        json={"payments": {"amount": 1500, "currency": "GBP", "links": {"mandate": sim.mandate()}}},
    )
    assert created.status_code == 201
    assert_shape(body_of("payments", "create"), created.json())
    payment_id = created.json()["payments"]["id"]
    assert_shape(body_of("payments", "list"), (await sim.client.get("/payments")).json())
    assert_shape(
        body_of("payments", "get"), (await sim.client.get(f"/payments/{payment_id}")).json()
    )
    updated = await sim.client.put(
        f"/payments/{payment_id}", json={"payments": {"metadata": {"invoice": "INV-1"}}}
    )
    assert_shape(body_of("payments", "update"), updated.json())
    cancelled = await sim.client.post(f"/payments/{payment_id}/actions/cancel", json={"data": {}})
    assert_shape(body_of("payments", "cancel"), cancelled.json())


async def test_payment_retry(sim: Sim) -> None:
    created = await sim.client.post(
        "/payments",
        json={"payments": {"amount": 900, "currency": "GBP", "links": {"mandate": sim.mandate()}}},
    )
    payment_id = created.json()["payments"]["id"]
    moved = await sim.client.post(f"/_sim/payments/{payment_id}/status", json={"status": "failed"})
    assert moved.status_code == 200
    retried = await sim.client.post(f"/payments/{payment_id}/actions/retry", json={"data": {}})
    assert retried.status_code == 200
    assert_shape(body_of("payments", "retry"), retried.json())


async def test_refunds(sim: Sim) -> None:
    payment = next(p for p in sim.org.payments.newest_first() if p.status == "paid_out")
    refund = Refund(
        id="RF000TEST",
        created_at=sim.state.clock.now(),
        amount=100,
        currency=payment.currency,
        payment=payment.id,
        mandate=payment.mandate,
        status="paid",
    )
    sim.org.refunds.add(refund.id, refund, payment=payment.id, mandate=payment.mandate)
    assert_shape(body_of("refunds", "list"), (await sim.client.get("/refunds")).json())
    assert_shape(body_of("refunds", "get"), (await sim.client.get("/refunds/RF000TEST")).json())


async def test_events(sim: Sim) -> None:
    await sim.client.post(f"/mandates/{sim.mandate()}/actions/cancel")
    listed = (await sim.client.get("/events")).json()
    assert listed["events"]
    # `linked` only comes back when `include` asks for it.
    assert_shape(body_of("events", "list"), listed, EVENT_OPTIONAL | {"linked"})
    got = (await sim.client.get(f"/events/{listed['events'][0]['id']}")).json()
    assert_shape(body_of("events", "get"), got, EVENT_OPTIONAL)
    included = await sim.client.get(
        "/events", params={"resource_type": "payments", "include": "payment"}
    )
    linked = included.json()["linked"]
    assert set(linked) == {"payments"} and linked["payments"]
    assert_shape(body_of("events", "list")["linked"]["payments"], linked["payments"])


def assert_error_shape(fixture_name: str, actual: dict[str, Any]) -> None:
    expected = fixture(fixture_name)
    # Every error we send has a request id and an errors list, some fixtures omit them.
    extras = {"request_id", "errors"} - set(expected["error"])
    trimmed = {"error": {k: v for k, v in actual["error"].items() if k not in extras}}
    assert_shape(expected, trimmed)


async def test_error_shapes(sim: Sim) -> None:
    mandate = sim.mandate()
    body = {"payments": {"amount": 100, "currency": "GBP", "links": {"mandate": mandate}}}
    first = await sim.client.post("/payments", json=body, headers={"Idempotency-Key": "same"})
    again = await sim.client.post("/payments", json=body, headers={"Idempotency-Key": "same"})
    assert (first.status_code, again.status_code) == (201, 409)
    assert_error_shape("idempotent_creation_conflict_error.json", again.json())

    invalid = await sim.client.post(
        "/payments",
        json={"payments": {"amount": 0, "currency": "GBP", "links": {"mandate": mandate}}},
    )
    assert_error_shape("validation_failed_error.json", invalid.json())

    await sim.client.post(f"/mandates/{mandate}/actions/cancel")
    inactive = await sim.client.post("/payments", json=body)
    assert inactive.status_code == 422
    assert_error_shape("invalid_state_error.json", inactive.json())

    unauthorized = await sim.client.get("/customers", headers={"Authorization": "Bearer nope"})
    assert_error_shape("unauthorized_error.json", unauthorized.json())

    structure = await sim.client.post("/customers", content=b"[1]")
    assert structure.status_code == 400
    assert_error_shape("invalid_api_usage_error.json", structure.json())


async def test_permission_rate_limit_and_internal_error_shapes(sim: Sim) -> None:
    read_only = sim.state.issue_token(sim.org.id, scope="read_only").token
    refused = await sim.client.post(
        "/customers",
        json={"customers": {"company_name": "X"}},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert refused.status_code == 403
    assert_error_shape("insufficient_permission.json", refused.json())

    sim.state.faults.configure(
        FaultConfig(next_faults=[FaultKind.RATE_LIMITED, FaultKind.SERVER_ERROR])
    )
    limited = await sim.client.get("/customers")
    assert limited.status_code == 429
    assert_error_shape("rate_limit_exceeded.json", limited.json())
    broken = await sim.client.get("/customers")
    assert broken.status_code == 500
    assert_error_shape("gocardless_error.json", broken.json())


@pytest.mark.parametrize("name", ["webhook_body.json"])
def test_webhook_fixture_is_readable(name: str) -> None:
    assert fixture(name)["events"]
