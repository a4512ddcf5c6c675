"""POST /webhooks/gocardless: signature, body, dedupe, routing by organisation."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

from tests.sync.conftest import Connected, event, sign, webhook


async def inbox(app: FastAPI) -> list[dict[str, object]]:
    async with app.state.runtime.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT event_id, resource_type, action, resource_id, status FROM gc_events")
        )
        return [dict(row._mapping) for row in rows]


async def test_valid_webhook_is_stored_and_acknowledged(
    client: httpx.AsyncClient, connected: Connected
) -> None:
    body, headers = webhook(
        [
            event("EV001", "payments", "confirmed", {"payment": "PM001"}),
            event("EV002", "mandates", "active", {"mandate": "MD001"}),
        ]
    )
    response = await client.post("/webhooks/gocardless", content=body, headers=headers)
    assert response.status_code == 204, response.text
    assert sorted(
        (r["event_id"], r["resource_id"], r["status"]) for r in await inbox(connected.app)
    ) == [
        ("EV001", "PM001", "pending"),
        ("EV002", "MD001", "pending"),
    ]


async def test_redelivery_is_deduplicated(client: httpx.AsyncClient, connected: Connected) -> None:
    first, headers = webhook([event("EV001", "payments", "confirmed", {"payment": "PM001"})])
    assert (
        await client.post("/webhooks/gocardless", content=first, headers=headers)
    ).status_code == 204
    again, headers = webhook(
        [
            event("EV001", "payments", "confirmed", {"payment": "PM001"}),
            event("EV003", "payments", "paid_out", {"payment": "PM001"}),
        ]
    )
    assert (
        await client.post("/webhooks/gocardless", content=again, headers=headers)
    ).status_code == 204
    assert sorted(r["event_id"] for r in await inbox(connected.app)) == ["EV001", "EV003"]


async def test_bad_signature_is_498_and_stores_nothing(
    client: httpx.AsyncClient, connected: Connected
) -> None:
    body, _ = webhook([event("EV001", "payments", "confirmed", {"payment": "PM001"})])
    for signature in ("0" * 64, sign(body, "another-secret"), ""):
        response = await client.post(
            "/webhooks/gocardless", content=body, headers={"Webhook-Signature": signature}
        )
        assert response.status_code == 498
        assert response.json()["code"] == "invalid_signature"
    unsigned = await client.post("/webhooks/gocardless", content=body)
    assert unsigned.status_code == 498
    # A signature over other bytes (re-serialised JSON) does not match the raw body.
    reserialised = json.dumps(json.loads(body), indent=2).encode()
    response = await client.post(
        "/webhooks/gocardless", content=reserialised, headers={"Webhook-Signature": sign(body)}
    )
    assert response.status_code == 498
    assert await inbox(connected.app) == []


async def test_malformed_body_is_400(client: httpx.AsyncClient, connected: Connected) -> None:
    for body in (b"not json", b'{"events": "nope"}', b"[]", b'{"events": [{"id": "EV1"}]}'):
        response = await client.post(
            "/webhooks/gocardless", content=body, headers={"Webhook-Signature": sign(body)}
        )
        assert response.status_code == 400, body
        assert response.json()["code"] == "bad_request"
    assert await inbox(connected.app) == []


async def test_unknown_organisation_is_acknowledged_and_dropped(
    client: httpx.AsyncClient, connected: Connected
) -> None:
    body, headers = webhook(
        [
            event("EV001", "payments", "confirmed", {"payment": "PM1"}, organisation="OR_OTHER"),
            event("EV002", "payments", "confirmed", {"payment": "PM2"}),
        ]
    )
    assert (
        await client.post("/webhooks/gocardless", content=body, headers=headers)
    ).status_code == 204
    assert [r["event_id"] for r in await inbox(connected.app)] == ["EV002"]


async def test_official_signature_vector_is_accepted(
    client: httpx.AsyncClient, app: FastAPI, fixtures_dir: Path
) -> None:
    vector = json.loads((fixtures_dir / "webhook_signature_vector.json").read_text())
    body = (fixtures_dir / "webhook_body.json").read_bytes().rstrip(b"\n")
    app.state.runtime.settings = app.state.runtime.settings.model_copy(
        update={"gocardless_webhook_secret": SecretStr(vector["webhook_endpoint_secret"])}
    )
    response = await client.post(
        "/webhooks/gocardless",
        content=body,
        headers={"Webhook-Signature": vector["webhook_signature"]},
    )
    # Valid, but for no organisation we serve: acknowledged, nothing stored.
    assert response.status_code == 204
    assert await inbox(app) == []


async def test_signed_events_the_inbox_cannot_hold_are_400(
    client: httpx.AsyncClient, connected: Connected
) -> None:
    # PostgreSQL refuses NUL in text, and the columns are bounded: such a body, even signed,
    # is refused before any INSERT (a 500 would make GoCardless retry it for days).
    for bad in (
        event("EV\u0000001", "payments", "confirmed", {"payment": "PM001"}),
        event("EV001", "payments", "confirmed", {"payment": "PM\u0000001"}),
        event("EV001", "payments", "confirmed", {"payment": "PM001"}, organisation="OR\u00001"),
        event("EV001", "payments\u0000", "confirmed", {"payment": "PM001"}),
        event("EV001", "payments", "confirmed\u0000", {"payment": "PM001"}),
        event("EV" + "1" * 40, "payments", "confirmed", {"payment": "PM001"}),
        event("EV001", "payments", "c" * 65, {"payment": "PM001"}),
        # A number is not a time (lax parsing would have stored 1970-01-01).
        {**event("EV001", "payments", "confirmed", {"payment": "PM001"}), "created_at": 0},
    ):
        body, headers = webhook([bad])
        response = await client.post("/webhooks/gocardless", content=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "bad_request"
    assert await inbox(connected.app) == []
