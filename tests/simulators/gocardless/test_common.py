"""The generic simulator parts: clock, rate limiter, ids, fault injection, webhook delivery."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.responses import JSONResponse, Response

from app.simulators.common import (
    DeliveryPolicy,
    FaultConfig,
    FaultDecision,
    FaultInjector,
    FaultKind,
    FaultMiddleware,
    FixedWindowRateLimiter,
    IdGenerator,
    OutgoingWebhook,
    SimClock,
    WebhookDispatcher,
    WebhookEndpoint,
    http_date,
)

START = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)


def test_frozen_clock_moves_only_when_advanced() -> None:
    clock = SimClock(START, frozen=True)
    assert clock.now() == START
    assert clock.advance(timedelta(days=2)) == START + timedelta(days=2)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


def test_http_date_is_imf_fixdate() -> None:
    assert http_date(datetime(2023, 4, 19, 16, 10, 0, 123, tzinfo=UTC)) == (
        "Wed, 19 Apr 2023 16:10:00 GMT"
    )


def test_rate_limiter_counts_per_key_and_resets_on_the_minute() -> None:
    clock = SimClock(START, frozen=True)
    limiter = FixedWindowRateLimiter(2, timedelta(minutes=1), clock)
    first, second, third = (limiter.hit("a") for _ in range(3))
    assert (first.remaining, second.remaining, third.allowed) == (1, 0, False)
    assert third.reset_at == datetime(2026, 3, 2, 10, 1, tzinfo=UTC)
    assert limiter.hit("b").allowed
    clock.advance(timedelta(seconds=30))
    assert limiter.hit("a").remaining == 1


def test_ids_are_unique_prefixed_and_repeatable() -> None:
    first = [IdGenerator(seed=7).next("PM") for _ in range(1)]
    again = [IdGenerator(seed=7).next("PM") for _ in range(1)]
    generator = IdGenerator(seed=7)
    many = {generator.next("CU") for _ in range(5000)}
    assert first == again
    assert len(many) == 5000
    assert all(i.startswith("CU") and len(i) == 14 for i in many)


def _faulty_app(injector: FaultInjector) -> FastAPI:
    app = FastAPI()

    @app.get("/thing")
    async def thing() -> dict[str, str]:
        return {"ok": "yes"}

    def respond(decision: FaultDecision, _scope: object) -> Response:
        status = 429 if decision.kind is FaultKind.RATE_LIMITED else decision.status
        return JSONResponse({"fault": decision.kind.value}, status_code=status)

    app.add_middleware(FaultMiddleware, injector=injector, respond=respond)
    return app


async def test_queued_faults_apply_in_order_then_calls_pass() -> None:
    injector = FaultInjector(
        FaultConfig(
            next_faults=[FaultKind.SERVER_ERROR, FaultKind.RATE_LIMITED],
            server_error_status=503,
        )
    )
    transport = httpx.ASGITransport(app=_faulty_app(injector))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        statuses = [(await client.get("/thing")).status_code for _ in range(3)]
    assert statuses == [503, 429, 200]


async def test_timeout_fault_holds_the_call() -> None:
    injector = FaultInjector(FaultConfig(timeout_rate=1.0, timeout_seconds=5))
    transport = httpx.ASGITransport(app=_faulty_app(injector))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.get("/thing")


async def test_fault_rates_respect_path_prefixes() -> None:
    injector = FaultInjector(FaultConfig(server_error_rate=1.0, path_prefixes=["/other"]))
    transport = httpx.ASGITransport(app=_faulty_app(injector))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        assert (await client.get("/thing")).status_code == 200


def _render(endpoint: WebhookEndpoint, items: list[int]) -> OutgoingWebhook:
    body = json.dumps({"items": items}).encode()
    return OutgoingWebhook(id=f"WB{items[0]}", body=body, headers={"X-Endpoint": endpoint.id})


class _Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[list[int]] = []
        self.fail_first = fail_first

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.fail_first:
            self.fail_first -= 1
            return httpx.Response(500)
        self.bodies.append(json.loads(request.content)["items"])
        return httpx.Response(204)


ENDPOINT = WebhookEndpoint(id="EP1", url="http://receiver/hook", secret=SecretStr("s"))


async def test_dispatcher_batches_items_submitted_together() -> None:
    receiver = _Receiver()
    dispatcher: WebhookDispatcher[int] = WebhookDispatcher(
        _render, transport=httpx.MockTransport(receiver.handler)
    )
    for item in range(5):
        dispatcher.submit(ENDPOINT, item)
    async with asyncio.timeout(5):
        await dispatcher.drain()
    await dispatcher.aclose()
    assert receiver.bodies == [[0, 1, 2, 3, 4]]
    assert [d.state for d in dispatcher.deliveries()] == ["delivered"]


async def test_dispatcher_retries_then_gives_up() -> None:
    receiver = _Receiver(fail_first=10)
    policy = DeliveryPolicy(retry_delays_seconds=[0.01, 0.02], batch_window_seconds=0)
    dispatcher: WebhookDispatcher[int] = WebhookDispatcher(
        _render, policy=policy, transport=httpx.MockTransport(receiver.handler)
    )
    dispatcher.submit(ENDPOINT, 1)
    async with asyncio.timeout(5):
        await dispatcher.drain()
    await dispatcher.aclose()
    (delivery,) = dispatcher.deliveries()
    assert delivery.state == "failed"
    assert [a.status_code for a in delivery.attempts] == [500, 500, 500]


async def test_dispatcher_recovers_after_failures() -> None:
    receiver = _Receiver(fail_first=1)
    policy = DeliveryPolicy(retry_delays_seconds=[0.01], batch_window_seconds=0)
    dispatcher: WebhookDispatcher[int] = WebhookDispatcher(
        _render, policy=policy, transport=httpx.MockTransport(receiver.handler)
    )
    dispatcher.submit(ENDPOINT, 1)
    async with asyncio.timeout(5):
        await dispatcher.drain()
    await dispatcher.aclose()
    assert receiver.bodies == [[1]]
    assert dispatcher.deliveries()[0].state == "delivered"


async def test_dispatcher_chaos_drops_duplicates_and_reorders() -> None:
    receiver = _Receiver()
    transport = httpx.MockTransport(receiver.handler)
    dropping: WebhookDispatcher[int] = WebhookDispatcher(
        _render, policy=DeliveryPolicy(drop_rate=1.0), transport=transport
    )
    dropping.submit(ENDPOINT, 1)
    async with asyncio.timeout(5):
        await dropping.drain()
    assert receiver.bodies == []
    assert dropping.deliveries()[0].state == "dropped"

    chaotic: WebhookDispatcher[int] = WebhookDispatcher(
        _render,
        policy=DeliveryPolicy(duplicate_rate=1.0, reorder=True),
        transport=transport,
        seed=3,
    )
    for item in range(20):
        chaotic.submit(ENDPOINT, item)
    async with asyncio.timeout(5):
        await chaotic.drain()
    await chaotic.aclose()
    received = [body[0] for body in receiver.bodies]
    assert sorted(received) == sorted([*range(20), *range(20)])
    assert received[:20] != list(range(20))
