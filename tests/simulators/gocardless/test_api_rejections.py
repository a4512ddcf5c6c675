"""The simulator refuses what the real API refuses, with the real error shape."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .conftest import Sim


def first_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def payment_body(mandate: str, **fields: Any) -> dict[str, Any]:
    return {
        "payments": {"amount": 2500, "currency": "GBP", "links": {"mandate": mandate}, **fields}
    }


async def test_version_header_is_required_and_checked(sim: Sim) -> None:
    missing = await sim.client.get("/customers", headers={"GoCardless-Version": ""})
    sim.client.headers.pop("GoCardless-Version")
    absent = await sim.client.get("/customers")
    assert (missing.status_code, first_error(missing)["errors"][0]["reason"]) == (
        400,
        "version_not_found",
    )
    assert (absent.status_code, first_error(absent)["errors"][0]["reason"]) == (
        400,
        "missing_version_header",
    )


async def test_bad_or_missing_token_is_unauthorized(sim: Sim) -> None:
    bad = await sim.client.get("/customers", headers={"Authorization": "Bearer not-a-token"})
    sim.client.headers.pop("Authorization")
    missing = await sim.client.get("/customers")
    for response in (bad, missing):
        assert response.status_code == 401
        assert first_error(response)["type"] == "invalid_api_usage"
        assert first_error(response)["errors"][0]["reason"] == "unauthorized"


async def test_revoked_token_is_not_active(sim: Sim) -> None:
    token = sim.state.issue_token(sim.org.id)
    token.revoked = True
    response = await sim.client.get(
        "/customers", headers={"Authorization": f"Bearer {token.token}"}
    )
    assert response.status_code == 401
    assert first_error(response)["errors"][0]["reason"] == "access_token_not_active"


async def test_unknown_fields_are_not_permitted(sim: Sim) -> None:
    response = await sim.client.post(
        "/customers", json={"customers": {"company_name": "X", "nickname": "x", "age": 3}}
    )
    error = first_error(response)
    assert response.status_code == 400
    assert error["message"] == "Invalid document structure"
    assert error["errors"] == [
        {
            "field": "customers",
            "message": '"age", "nickname" are not permitted keys.',
            "request_pointer": "/customers",
        }
    ]
    nested = await sim.client.post("/payments", json=payment_body(sim.mandate(), links={"x": "1"}))
    assert first_error(nested)["errors"][0]["request_pointer"] == "/payments/links"


async def test_bodies_need_their_envelope(sim: Sim) -> None:
    response = await sim.client.post("/customers", json={"company_name": "X"})
    assert response.status_code == 400
    assert "envelope" in first_error(response)["errors"][0]["message"]
    action = await sim.client.post(
        f"/mandates/{sim.mandate()}/actions/cancel", json={"metadata": {}}
    )
    assert "`data` envelope" in first_error(action)["errors"][0]["message"]


async def test_currency_must_match_the_mandate_scheme(sim: Sim) -> None:
    response = await sim.client.post(
        "/payments", json=payment_body(sim.mandate("sepa_core"), currency="GBP")
    )
    assert response.status_code == 422
    assert first_error(response)["type"] == "validation_failed"
    assert first_error(response)["errors"] == [
        {
            "field": "currency",
            "message": "must be EUR for a sepa_core mandate",
            "request_pointer": "/payments/currency",
        }
    ]
    bacs = await sim.client.post(
        "/payments", json=payment_body(sim.mandate("bacs"), currency="EUR")
    )
    assert first_error(bacs)["errors"][0]["message"] == "must be GBP for a bacs mandate"


async def test_amount_must_be_a_positive_integer(sim: Sim) -> None:
    zero = await sim.client.post("/payments", json=payment_body(sim.mandate(), amount=0))
    text = await sim.client.post("/payments", json=payment_body(sim.mandate(), amount="10"))
    missing = await sim.client.post(
        "/payments", json={"payments": {"currency": "GBP", "links": {}}}
    )
    assert zero.status_code == 422
    assert first_error(zero)["errors"][0]["field"] == "amount"
    assert text.status_code == 400
    assert {e["field"] for e in first_error(missing)["errors"]} == {"amount", "mandate"}


async def test_inactive_mandate_refuses_payments(sim: Sim) -> None:
    response = await sim.client.post(
        "/payments", json=payment_body(sim.mandate(status="cancelled"))
    )
    assert response.status_code == 422
    assert first_error(response)["type"] == "invalid_state"
    assert first_error(response)["errors"][0]["reason"] == "mandate_is_inactive"


async def test_unknown_mandate_link(sim: Sim) -> None:
    response = await sim.client.post("/payments", json=payment_body("MD0000NOPE"))
    assert response.status_code == 400
    assert first_error(response)["errors"][0]["reason"] == "link_not_found"


async def test_charge_date_not_before_next_possible(sim: Sim) -> None:
    mandate = await sim.client.get(f"/mandates/{sim.mandate()}")
    earliest = mandate.json()["mandates"]["next_possible_charge_date"]
    too_early = await sim.client.post(
        "/payments", json=payment_body(sim.mandate(), charge_date="2026-03-04")
    )
    on_time = await sim.client.post(
        "/payments", json=payment_body(sim.mandate(), charge_date=earliest)
    )
    assert too_early.status_code == 422
    assert first_error(too_early)["errors"][0]["field"] == "charge_date"
    assert on_time.status_code == 201
    assert on_time.json()["payments"]["charge_date"] == earliest


async def test_weekend_charge_dates_roll_forward(sim: Sim) -> None:
    response = await sim.client.post(
        "/payments", json=payment_body(sim.mandate(), charge_date="2026-03-14")
    )
    assert response.json()["payments"]["charge_date"] == "2026-03-16"


async def test_metadata_limits(sim: Sim) -> None:
    cases = [
        {"a": "1", "b": "2", "c": "3", "d": "4"},
        {"k" * 51: "v"},
        {"k": "v" * 501},
        {"k": 5},
    ]
    for metadata in cases:
        response = await sim.client.post(
            "/customers", json={"customers": {"company_name": "X", "metadata": metadata}}
        )
        assert response.status_code == 422, metadata
        assert first_error(response)["errors"][0]["request_pointer"] == "/customers/metadata"
    fine = {"a" * 50: "v" * 500, "b": "", "c": "x"}
    ok = await sim.client.post(
        "/customers", json={"customers": {"company_name": "X", "metadata": fine}}
    )
    assert ok.status_code == 201


async def test_cancel_only_before_submission(sim: Sim) -> None:
    created = await sim.client.post("/payments", json=payment_body(sim.mandate()))
    payment_id = created.json()["payments"]["id"]
    sim.state.clock.advance(timedelta(days=3))
    response = await sim.client.post(f"/payments/{payment_id}/actions/cancel")
    assert (await sim.client.get(f"/payments/{payment_id}")).json()["payments"]["status"] in (
        "submitted",
        "confirmed",
    )
    assert response.status_code == 422
    assert first_error(response)["type"] == "invalid_state"
    assert first_error(response)["errors"][0]["reason"] == "cancellation_failed"


async def test_retry_only_from_failed(sim: Sim) -> None:
    created = await sim.client.post("/payments", json=payment_body(sim.mandate()))
    payment_id = created.json()["payments"]["id"]
    response = await sim.client.post(f"/payments/{payment_id}/actions/retry")
    assert response.status_code == 422
    assert first_error(response)["errors"][0]["reason"] == "retry_failed"


async def test_cancelling_a_cancelled_mandate_fails(sim: Sim) -> None:
    response = await sim.client.post(f"/mandates/{sim.mandate(status='cancelled')}/actions/cancel")
    assert response.status_code == 422
    assert first_error(response)["errors"][0]["reason"] == "cancellation_failed"


async def test_idempotency_conflict_names_the_first_resource(sim: Sim) -> None:
    headers = {"Idempotency-Key": "invoice-42-payment"}
    first = await sim.client.post("/payments", json=payment_body(sim.mandate()), headers=headers)
    changed = payment_body(sim.mandate(), amount=1)
    second = await sim.client.post("/payments", json=changed, headers=headers)
    assert second.status_code == 409
    links = first_error(second)["errors"][0]["links"]
    assert links == {"conflicting_resource_id": first.json()["payments"]["id"]}
    other = await sim.client.post(
        "/customers", json={"customers": {"company_name": "X"}}, headers=headers
    )
    assert other.status_code == 201  # keys are per resource type


async def test_failed_creates_do_not_use_up_the_key(sim: Sim) -> None:
    headers = {"Idempotency-Key": "k"}
    bad = await sim.client.post(
        "/payments", json=payment_body(sim.mandate(), amount=-1), headers=headers
    )
    good = await sim.client.post("/payments", json=payment_body(sim.mandate()), headers=headers)
    assert (bad.status_code, good.status_code) == (422, 201)


async def test_list_parameters_are_checked(sim: Sim) -> None:
    too_many = await sim.client.get("/customers", params={"limit": 501})
    bad_cursor = await sim.client.get("/customers", params={"after": "CU0000NOPE"})
    unknown_filter = await sim.client.get("/customers", params={"email": "a@b.co"})
    bad_date = await sim.client.get("/payments", params={"created_at[gt]": "yesterday"})
    assert (too_many.status_code, first_error(too_many)["errors"][0]["field"]) == (422, "limit")
    assert (bad_cursor.status_code, first_error(bad_cursor)["errors"][0]["field"]) == (422, "after")
    assert unknown_filter.status_code == 400
    assert bad_date.status_code == 422
    assert (await sim.client.get("/customers", params={"limit": 500})).status_code == 200


async def test_event_filters_cannot_mix_resource_type_and_resource(sim: Sim) -> None:
    response = await sim.client.get(
        "/events", params={"resource_type": "payments", "payment": "PM1"}
    )
    assert response.status_code == 400
    assert first_error(response)["errors"][0]["reason"] == "invalid_filters"


async def test_unknown_paths_and_ids(sim: Sim) -> None:
    path = await sim.client.get("/widgets")
    resource = await sim.client.get("/payments/PM0000NOPE")
    verb = await sim.client.delete("/payments")
    assert (path.status_code, first_error(path)["type"]) == (404, "invalid_api_usage")
    assert first_error(resource)["errors"][0]["reason"] == "resource_not_found"
    assert verb.status_code == 405


async def test_rate_limit_counts_per_token_and_sets_headers(sim: Sim) -> None:
    sim.state.limiter.limit = 3
    responses = [await sim.client.get("/customers") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    reset = parsedate_to_datetime(responses[-1].headers["RateLimit-Reset"])
    assert reset == sim.state.clock.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert first_error(responses[-1])["errors"][0]["reason"] == "rate_limit_exceeded"
    other = sim.state.issue_token(sim.org.id).token
    fresh = await sim.client.get("/customers", headers={"Authorization": f"Bearer {other}"})
    assert fresh.status_code == 200
    sim.state.clock.advance(timedelta(minutes=1))
    assert (await sim.client.get("/customers")).status_code == 200


async def test_errors_carry_rate_limit_headers_and_request_id(sim: Sim) -> None:
    response = await sim.client.get("/payments/PM0000NOPE")
    assert response.headers["RateLimit-Limit"] == "1000"
    assert response.headers["x-request-id"] == first_error(response)["request_id"]
