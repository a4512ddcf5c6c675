from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from app.adapters.gocardless import MalformedWebhook, parse_webhook, verify_signature
from tests.adapters.gocardless.conftest import FIXTURES, fixture_json

VECTOR = fixture_json("webhook_signature_vector.json")
# The vector signs the fixture file without its trailing newline.
BODY = (FIXTURES / VECTOR["body_file"]).read_bytes().rstrip(b"\n")


def _sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_the_published_vector_verifies() -> None:
    assert len(BODY) == 550
    assert verify_signature(BODY, VECTOR["webhook_signature"], VECTOR["webhook_endpoint_secret"])


def test_the_wrong_secret_fails() -> None:
    secret = VECTOR["negative_case"]["webhook_endpoint_secret"]
    assert not verify_signature(BODY, VECTOR["webhook_signature"], secret)


@pytest.mark.parametrize(
    "body",
    [BODY + b"\n", BODY.replace(b"EV00BD05S5VM2T", b"EV00BD05S5VM2X"), b""],
)
def test_any_change_to_the_raw_body_fails(body: bytes) -> None:
    assert not verify_signature(
        body, VECTOR["webhook_signature"], VECTOR["webhook_endpoint_secret"]
    )


@pytest.mark.parametrize(
    "signature", [None, "", "not-hex", "2693754819d3", "é" * 64, VECTOR["webhook_signature"] + "0"]
)
def test_missing_or_garbled_signatures_fail(signature: str | None) -> None:
    assert not verify_signature(BODY, signature, VECTOR["webhook_endpoint_secret"])


def test_uppercase_or_padded_hex_is_accepted() -> None:
    signature = f" {VECTOR['webhook_signature'].upper()} "
    assert verify_signature(BODY, signature, VECTOR["webhook_endpoint_secret"])


def test_an_empty_secret_never_verifies() -> None:
    assert not verify_signature(BODY, _sign(BODY, ""), "")


def test_parse_the_fixture_body() -> None:
    batch = parse_webhook(BODY)
    assert len(batch.events) == VECTOR["expected_event_count"]
    first, second = batch.events
    assert first.id == VECTOR["expected_first_event_id"]
    assert (first.resource_type, first.action) == ("subscriptions", "created")
    assert first.created_at == datetime(2018, 7, 5, 9, 13, 51, 404000, tzinfo=UTC)
    assert first.details.cause == "subscription_created"
    assert first.details.origin == "api"
    assert second.links.mandate == "MD000AMA19XGEC"
    assert batch.webhook_id is None


def test_disconnect_event_without_an_id() -> None:
    body = {
        "events": [
            {
                "id": None,
                "created_at": "2024-03-01T10:00:00.000Z",
                "resource_type": "organisations",
                "action": "disconnected",
                "links": {"organisation": "OR123"},
                "details": {
                    "origin": "gocardless",
                    "cause": "app_disconnected",
                    "description": "This app has been disconnected.",
                },
                "metadata": {},
            }
        ],
        "meta": {"webhook_id": "WB123"},
    }
    batch = parse_webhook(json.dumps(body).encode())
    [event] = batch.events
    assert event.id is None
    assert event.links.organisation == "OR123"
    assert event.details.cause == "app_disconnected"
    assert batch.webhook_id == "WB123"


def test_events_api_fixture_shape_parses_as_webhook_events() -> None:
    events = fixture_json("events.json")["list"]["body"]["events"]
    batch = parse_webhook(json.dumps({"events": events, "meta": {}}).encode())
    assert [e.links.organisation for e in batch.events] == ["OR123", "OR123"]
    assert batch.events[0].details.will_attempt_retry is True


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"meta": {}}',
        b'{"events": {}}',
        b'{"events": [{"id": "EV1"}]}',
        b'{"events": [42]}',
        b'{"events": [{"id": "EV1", "resource_type": "payments", "action": "created", '
        b'"created_at": "yesterday"}]}',
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_raise(body: bytes) -> None:
    with pytest.raises(MalformedWebhook, match="not a GoCardless webhook"):
        parse_webhook(body)
