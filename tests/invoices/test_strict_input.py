"""Request bodies and ids are taken as sent: no coercion, ASCII digits, GoCardless's id shapes.

Every refusal here happens before any call to Zoho or GoCardless.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from app.schemas.invoices import RefundCreate
from tests.foundation.conftest import ADMIN_HEADERS
from tests.invoices.conftest import INVOICE, FakeApis, Ready

PAYMENTS = f"/api/v1/invoices/{INVOICE}/payments"


def provider_calls(apis: FakeApis) -> int:
    return sum(1 for call in apis.router.calls if call.request.url.host != "testserver")


@pytest.fixture
async def warm(client: httpx.AsyncClient, ready: Ready) -> Ready:
    """The caller's audience check (a Zoho call) done and cached, as after sign-in."""
    assert (await client.get("/api/v1/installation/sync", headers=ready.headers)).is_success
    return ready


@pytest.mark.parametrize("value", [0, 1, "yes", "true", None, [], {}])
async def test_settings_take_only_json_booleans(
    client: httpx.AsyncClient, ready: Ready, value: object
) -> None:
    response = await client.patch(
        "/api/v1/installation", headers=ready.headers, json={"auto_collect_on_mandate": value}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    accepted = await client.patch(
        "/api/v1/installation", headers=ready.headers, json={"auto_collect_on_mandate": True}
    )
    assert accepted.status_code == 200 and accepted.json()["auto_collect_on_mandate"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"mandate_id": "MD0001", "charge_date": 20261210},
        {"mandate_id": "MD0001", "charge_date": 1.5},
        {"mandate_id": "MD0001", "charge_date": "2026-12-10T00:00:00"},
        {"mandate_id": "MD0001", "charge_date": "\uff12\uff10\uff12\uff16-12-10"},
        {"mandate_id": 1},
        {"mandate_id": "PM0001"},
        {"mandate_id": "md0001"},
        {"mandate_id": "MD٣٤"},
        {"mandate_id": "MD0001\u0000"},
        {"mandate_id": "MD" + "0" * 31},
    ],
)
async def test_payment_bodies_are_strict(
    client: httpx.AsyncClient, warm: Ready, apis: FakeApis, body: dict[str, object]
) -> None:
    before = provider_calls(apis)
    response = await client.post(PAYMENTS, headers=warm.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    assert provider_calls(apis) == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/invoices/٣٤/mandates",
        "/api/v1/invoices/²/mandates",
        "/api/v1/invoices/12%0A/mandates",
        "/api/v1/invoices/" + "1" * 21 + "/mandates",
        "/api/v1/invoices/-1/payments",
        "/api/v1/payments/PM٣٤/cancel",
        "/api/v1/payments/MD0001/cancel",
        "/api/v1/payments/pm0001/cancel",
    ],
)
async def test_ids_are_ascii_and_shaped_before_any_call(
    client: httpx.AsyncClient, warm: Ready, apis: FakeApis, path: str
) -> None:
    before = provider_calls(apis)
    method = "GET" if path.endswith("/mandates") else "POST"
    body = {"mandate_id": "MD0001"} if path.endswith("/payments") else None
    response = await client.request(method, path, headers=warm.headers, json=body)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert provider_calls(apis) == before


@pytest.mark.parametrize(
    "body",
    [
        {"zoho_org_id": 60012345678, "audience": "admins"},
        {"zoho_org_id": "60012345678", "audience": "admins", "profile_ids": [1]},
        {"zoho_org_id": "60012345678", "audience": "profiles", "profile_ids": ["²"]},
        {"zoho_org_id": "60012345678", "audience": "everyone"},
    ],
)
async def test_installation_bodies_are_strict(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/api/v1/installations", headers=ADMIN_HEADERS, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"


def test_refund_amounts_are_json_integers() -> None:
    # JSON Schema counts 2500.0 as an integer, and it is exactly 2500: taken. Nothing else
    # that is not an integer is.
    assert RefundCreate.model_validate_json('{"amount": 2500.0}').amount == 2500
    for body in ('{"amount": 2500.5}', '{"amount": "2500"}', '{"amount": true}'):
        with pytest.raises(ValidationError):
            RefundCreate.model_validate_json(body)
