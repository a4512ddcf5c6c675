from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.adapters.gocardless.errors import (
    GoCardlessError,
    GoCardlessForbidden,
    GoCardlessInternalError,
    GoCardlessInvalidApiUsage,
    GoCardlessInvalidState,
    GoCardlessNotFound,
    GoCardlessRateLimited,
    GoCardlessTransportError,
    GoCardlessUnauthorized,
    GoCardlessValidationFailed,
    error_from_response,
    parse_http_date,
)
from tests.adapters.gocardless.conftest import FIXTURES_EXTRA, fixture_json


def _response(
    status: int, body: Any = None, *, text: str | None = None, **headers: str
) -> httpx.Response:
    content = text.encode() if text is not None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


@pytest.mark.parametrize(
    ("fixture", "status", "cls", "transient"),
    [
        ("gocardless_error.json", 500, GoCardlessInternalError, True),
        ("invalid_api_usage_error.json", 400, GoCardlessInvalidApiUsage, False),
        ("invalid_state_error.json", 422, GoCardlessInvalidState, False),
        ("idempotent_creation_conflict_error.json", 409, GoCardlessInvalidState, False),
        ("unauthorized_error.json", 401, GoCardlessUnauthorized, False),
        ("insufficient_permission.json", 403, GoCardlessForbidden, False),
        ("rate_limit_exceeded.json", 429, GoCardlessRateLimited, True),
        ("validation_failed_error.json", 422, GoCardlessValidationFailed, False),
        (
            "validation_failed_duplicate_bank_account_error.json",
            409,
            GoCardlessValidationFailed,
            False,
        ),
    ],
)
def test_fixture_errors_map_to_their_class(
    fixture: str, status: int, cls: type[GoCardlessError], transient: bool
) -> None:
    body = fixture_json(fixture)
    exc = error_from_response(_response(status, body))
    assert type(exc) is cls
    assert exc.transient is transient
    assert exc.status_code == status
    assert exc.code == body["error"]["code"]
    assert exc.type == body["error"]["type"]
    assert exc.message == body["error"]["message"]
    assert exc.request_id == body["error"].get("request_id")
    assert exc.errors == body["error"].get("errors", [])


def test_reasons_and_links_are_kept() -> None:
    exc = error_from_response(
        _response(409, fixture_json("idempotent_creation_conflict_error.json"))
    )
    assert exc.reasons == ["idempotent_creation_conflict"]
    assert exc.has_reason("idempotent_creation_conflict")
    assert exc.errors[0]["links"] == {"conflicting_resource_id": "PM00001078ZJJN"}
    assert "request_id=9aac0445" in str(exc)


def test_validation_errors_keep_field_and_pointer() -> None:
    exc = error_from_response(_response(422, fixture_json("validation_failed_error.json")))
    assert [e["field"] for e in exc.errors] == ["branch_code", "country_code"]
    assert exc.reasons == []


def test_status_wins_over_type() -> None:
    body = {"error": {"type": "invalid_state", "message": "gone", "code": 404}}
    assert type(error_from_response(_response(404, body))) is GoCardlessNotFound


def test_unknown_type_falls_back_to_the_base_class() -> None:
    body = {"error": {"type": "brand_new_type", "message": "?", "code": 418}}
    exc = error_from_response(_response(418, body))
    assert type(exc) is GoCardlessError
    assert not exc.transient


def test_request_id_falls_back_to_the_header() -> None:
    exc = error_from_response(
        _response(429, fixture_json("rate_limit_exceeded.json"), **{"x-request-id": "hdr-1"})
    )
    assert exc.request_id == "hdr-1"


def test_rate_limit_reset_is_parsed() -> None:
    exc = error_from_response(
        _response(
            429,
            fixture_json("rate_limit_exceeded.json"),
            **{"RateLimit-Reset": "Wed, 19 Apr 2023 16:10:00 GMT"},
        )
    )
    assert isinstance(exc, GoCardlessRateLimited)
    assert exc.reset_at == datetime(2023, 4, 19, 16, 10, tzinfo=UTC)


def test_unparseable_reset_is_none() -> None:
    assert parse_http_date("soon") is None
    assert parse_http_date(None) is None


def test_plain_string_error_from_fixtures_extra() -> None:
    body = json.loads((FIXTURES_EXTRA / "string_error.from-gocardless-nodejs.json").read_text())
    exc = error_from_response(_response(400, body))
    assert type(exc) is GoCardlessError
    assert exc.message == "bank_authorisation_expired"
    assert exc.reasons == ["bank_authorisation_expired"]
    assert not exc.transient
    assert type(error_from_response(_response(503, body))) is GoCardlessInternalError


def test_html_5xx_is_a_transport_error_with_a_short_preview() -> None:
    exc = error_from_response(_response(502, text="<html>" + "y" * 900, **{"x-request-id": "edge"}))
    assert type(exc) is GoCardlessTransportError
    assert exc.transient
    assert exc.status_code == 502
    assert exc.request_id == "edge"
    assert exc.body_preview is not None
    assert exc.body_preview.startswith("<html>")
    assert len(exc.body_preview) == 500


def test_non_json_4xx_keeps_status_and_is_not_transient() -> None:
    exc = error_from_response(_response(400, text="Bad Request"))
    assert type(exc) is GoCardlessError
    assert exc.status_code == 400
    assert exc.body_preview == "Bad Request"
    assert not exc.transient


def test_empty_404_is_not_found() -> None:
    exc = error_from_response(httpx.Response(404))
    assert type(exc) is GoCardlessNotFound
    assert exc.body_preview == ""
