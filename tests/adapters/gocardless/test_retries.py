from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from app.adapters.gocardless import (
    GoCardlessClient,
    GoCardlessInternalError,
    GoCardlessRateLimited,
    GoCardlessTransportError,
    GoCardlessValidationFailed,
)
from tests.adapters.gocardless.conftest import API, RecordedSleep, fixture_body, fixture_json

OK = httpx.Response(200, json=fixture_body("payments", "get"))
INTERNAL = httpx.Response(500, json=fixture_json("gocardless_error.json"))


def _http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + delta, usegmt=True)


def _rate_limited(reset: str | None) -> httpx.Response:
    headers = {"RateLimit-Limit": "1000", "RateLimit-Remaining": "0"}
    if reset is not None:
        headers["RateLimit-Reset"] = reset
    return httpx.Response(429, json=fixture_json("rate_limit_exceeded.json"), headers=headers)


@pytest.mark.parametrize(
    "failure",
    [
        INTERNAL,
        httpx.Response(502, text="<html>Bad gateway</html>"),
        httpx.Response(503, json={"error": "service_unavailable"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("reset"),
    ],
)
async def test_transient_failures_are_retried(
    client: GoCardlessClient,
    api: respx.MockRouter,
    sleeps: RecordedSleep,
    failure: httpx.Response | Exception,
) -> None:
    route = api.get("/payments/PM123").mock(side_effect=[failure, failure, OK])
    payment = await client.get_payment("PM123")
    assert payment.id == "PM123"
    assert route.call_count == 3
    assert len(sleeps.waits) == 2


async def test_backoff_is_jittered_exponential_and_bounded(
    client: GoCardlessClient, api: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    route = api.get("/payments/PM123").mock(return_value=INTERNAL)
    with pytest.raises(GoCardlessInternalError) as caught:
        await client.get_payment("PM123")
    assert caught.value.request_id == "41a59cf8-ca4c-474c-9931-7f01fb547bc7"
    assert route.call_count == 5
    assert len(sleeps.waits) == 4
    for attempt, wait in enumerate(sleeps.waits, start=1):
        assert 0 <= wait <= min(30, 0.5 * 2**attempt)


async def test_the_attempt_budget_is_configurable(
    http: httpx.AsyncClient, api: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    client = GoCardlessClient(http, api_url=API, access_token="t", max_attempts=2, sleep=sleeps)
    route = api.get("/payments/PM123").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(GoCardlessTransportError) as caught:
        await client.get_payment("PM123")
    assert caught.value.transient
    assert isinstance(caught.value.__cause__, httpx.ConnectTimeout)
    assert route.call_count == 2
    with pytest.raises(ValueError, match="max_attempts"):
        GoCardlessClient(http, api_url=API, access_token="t", max_attempts=0)


async def test_rate_limit_waits_until_the_reset(
    client: GoCardlessClient, api: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    route = api.get("/payments/PM123").mock(
        side_effect=[_rate_limited(_http_date(timedelta(seconds=5))), OK]
    )
    await client.get_payment("PM123")
    assert route.call_count == 2
    [wait] = sleeps.waits
    # The header has one-second resolution, then up to one second of jitter.
    assert 3.9 <= wait <= 6.1


async def test_a_far_reset_is_capped(
    client: GoCardlessClient, api: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    api.get("/payments/PM123").mock(side_effect=[_rate_limited(_http_date(timedelta(hours=2))), OK])
    await client.get_payment("PM123")
    [wait] = sleeps.waits
    assert 65 <= wait <= 66


async def test_a_past_reset_retries_almost_at_once(
    client: GoCardlessClient, api: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    api.get("/payments/PM123").mock(
        side_effect=[_rate_limited(_http_date(timedelta(seconds=-30))), OK]
    )
    await client.get_payment("PM123")
    [wait] = sleeps.waits
    assert 0 <= wait <= 1


async def test_a_rate_limit_without_reset_backs_off(
    client: GoCardlessClient, api: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    api.get("/payments/PM123").mock(side_effect=[_rate_limited(None), OK])
    await client.get_payment("PM123")
    [wait] = sleeps.waits
    assert 0 <= wait <= 1


async def test_rate_limit_surfaces_after_the_budget(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    api.get("/payments/PM123").mock(return_value=_rate_limited("Wed, 19 Apr 2023 16:10:00 GMT"))
    with pytest.raises(GoCardlessRateLimited) as caught:
        await client.get_payment("PM123")
    assert caught.value.reset_at == datetime(2023, 4, 19, 16, 10, tzinfo=UTC)


async def test_logical_errors_are_not_retried(
    client: GoCardlessClient, api: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    route = api.post("/payments").respond(422, json=fixture_json("validation_failed_error.json"))
    with pytest.raises(GoCardlessValidationFailed):
        await client.create_payment(amount=1, currency="GBP", mandate_id="MD1", idempotency_key="k")
    assert route.call_count == 1
    assert sleeps.waits == []


async def test_creates_retry_with_the_same_key(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.post("/payments").mock(
        side_effect=[
            httpx.ReadTimeout("lost the answer"),
            INTERNAL,
            httpx.Response(201, json=fixture_body("payments", "create")),
        ]
    )
    _, created = await client.create_payment(
        amount=1000, currency="EUR", mandate_id="MD123", idempotency_key="inv-9-payment"
    )
    assert created
    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    bodies = {call.request.content for call in route.calls}
    assert keys == {"inv-9-payment"}
    assert len(bodies) == 1
    assert json.loads(bodies.pop())["payments"]["amount"] == 1000


async def test_a_retry_after_a_lost_answer_finds_the_original(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    """The first attempt created the payment but its answer was lost; the retry conflicts."""
    api.post("/payments").mock(
        side_effect=[
            httpx.ReadTimeout("lost the answer"),
            httpx.Response(409, json=fixture_json("idempotent_creation_conflict_error.json")),
        ]
    )
    original = fixture_body("payments", "get")
    original["payments"] = {**original["payments"], "id": "PM00001078ZJJN"}
    api.get("/payments/PM00001078ZJJN").mock(
        side_effect=[INTERNAL, httpx.Response(200, json=original)]
    )
    payment, created = await client.create_payment(
        amount=1000, currency="EUR", mandate_id="MD123", idempotency_key="k"
    )
    assert (payment.id, created) == ("PM00001078ZJJN", False)


@pytest.mark.parametrize(
    "failure",
    [INTERNAL, httpx.ReadTimeout("slow"), _rate_limited(None)],
)
async def test_actions_are_never_retried(
    client: GoCardlessClient,
    api: respx.MockRouter,
    sleeps: RecordedSleep,
    failure: httpx.Response | Exception,
) -> None:
    route = api.post("/payments/PM123/actions/cancel").mock(side_effect=[failure, OK])
    with pytest.raises((GoCardlessInternalError, GoCardlessTransportError, GoCardlessRateLimited)):
        await client.cancel_payment("PM123")
    assert route.call_count == 1
    assert sleeps.waits == []


async def test_billing_request_cancel_is_not_retried(
    client: GoCardlessClient, api: respx.MockRouter
) -> None:
    route = api.post("/billing_requests/BRQ1/actions/cancel").mock(return_value=INTERNAL)
    with pytest.raises(GoCardlessInternalError):
        await client.cancel_billing_request("BRQ1")
    assert route.call_count == 1
