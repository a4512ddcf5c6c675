"""Outgoing webhook delivery for simulators: batching, retries, and chaos switches.

The provider-specific part (body, signature header, webhook id) comes from a `render`
callback; this module decides when and how often a webhook goes out. Retry delays are
real seconds, compressed by configuration so tests need not wait minutes. `drop_rate`,
`duplicate_rate` and `reorder` reproduce what real providers do on bad days, so the
receiving service's dedupe and heal-from-events paths can be exercised.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, Field, SecretStr

from app.simulators.common.clock import SimClock

T = TypeVar("T")
DeliveryState = Literal["pending", "delivered", "failed", "dropped"]
_PREVIEW_CHARS = 500


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    secret: SecretStr


@dataclass(frozen=True)
class OutgoingWebhook:
    id: str
    body: bytes
    headers: dict[str, str]


class DeliveryPolicy(BaseModel):
    retry_delays_seconds: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0],
        description="one retry per entry, after a failed attempt; empty means no retries",
    )
    timeout_seconds: float = Field(default=10.0, gt=0)
    batch_window_seconds: float = Field(default=0.05, ge=0)
    max_batch_size: int = Field(default=250, ge=1)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    reorder: bool = False


@dataclass
class DeliveryAttempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    response_preview: str


@dataclass
class Delivery:
    id: str
    endpoint_id: str
    url: str
    body: bytes
    headers: dict[str, str]
    item_count: int
    created_at: datetime
    duplicate: bool = False
    state: DeliveryState = "pending"
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    next_attempt_at: float | None = None


class WebhookDispatcher(Generic[T]):
    """Queues items per endpoint and delivers them in batches from one background task."""

    def __init__(
        self,
        render: Callable[[WebhookEndpoint, list[T]], OutgoingWebhook],
        *,
        policy: DeliveryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: SimClock | None = None,
        seed: int | None = None,
    ) -> None:
        self._render = render
        self._policy = policy or DeliveryPolicy()
        self._transport = transport
        self._clock = clock
        self._random = random.Random(seed)  # noqa: S311 - chaos odds, not secrets
        self._queue: list[tuple[WebhookEndpoint, T]] = []
        self._pending: list[Delivery] = []
        self._log: list[Delivery] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight = 0

    @property
    def policy(self) -> DeliveryPolicy:
        return self._policy

    def configure(self, policy: DeliveryPolicy) -> None:
        self._policy = policy

    def deliveries(self) -> list[Delivery]:
        return list(self._log)

    def forget_finished(self) -> None:
        """Drop delivered, failed and dropped webhooks from the log; pending ones stay."""
        self._log = [d for d in self._log if d.state == "pending"]

    def clear(self) -> None:
        self._queue.clear()
        self._pending.clear()
        self._log.clear()

    def submit(self, endpoint: WebhookEndpoint, item: T) -> None:
        """Queue one item; call from the event loop (request handlers do)."""
        self._queue.append((endpoint, item))
        self._ensure_worker()

    @property
    def idle(self) -> bool:
        return not self._queue and not self._pending and not self._in_flight

    async def drain(self) -> None:
        """Wait until every queued item has been delivered, dropped or given up on.

        Bound it with `asyncio.timeout`: with retries configured this can take a while.
        """
        self._ensure_worker()
        while not self.idle:
            if self._task is not None and self._task.done() and not self._task.cancelled():
                error = self._task.exception()
                if error is not None:
                    raise RuntimeError("webhook dispatcher stopped") from error
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._task
        self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _ensure_worker(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet (e.g. seeding at start-up): the next call starts it
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            if self._wake is not None:
                self._wake.set()
            return
        # A new loop (another test, another server thread): start afresh on it.
        self._client = None
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="webhook-dispatcher")

    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        while True:
            wake.clear()
            if self._queue:
                await asyncio.sleep(self._policy.batch_window_seconds)
                self._form_deliveries()
            await self._attempt_due()
            if self._queue:
                continue
            due_times = [d.next_attempt_at for d in self._pending if d.next_attempt_at is not None]
            wait = max(min(due_times) - time.monotonic(), 0.0) if due_times else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=wait)

    def _form_deliveries(self) -> None:
        policy = self._policy
        grouped: dict[str, tuple[WebhookEndpoint, list[T]]] = {}
        for endpoint, item in self._queue:
            grouped.setdefault(endpoint.id, (endpoint, []))[1].append(item)
        self._queue.clear()
        batches: list[tuple[WebhookEndpoint, list[T]]] = []
        for endpoint, items in grouped.values():
            if policy.reorder:
                self._random.shuffle(items)
                batches.extend((endpoint, [item]) for item in items)
            else:
                size = policy.max_batch_size
                batches.extend((endpoint, items[i : i + size]) for i in range(0, len(items), size))
        if policy.reorder:
            self._random.shuffle(batches)
        now = time.monotonic()
        for endpoint, items in batches:
            outgoing = self._render(endpoint, items)
            delivery = self._new_delivery(endpoint, outgoing, len(items))
            if self._random.random() < policy.drop_rate:
                delivery.state = "dropped"
                continue
            delivery.next_attempt_at = now
            self._pending.append(delivery)
            if self._random.random() < policy.duplicate_rate:
                copy = self._new_delivery(endpoint, outgoing, len(items), duplicate=True)
                copy.next_attempt_at = now
                self._pending.append(copy)

    def _new_delivery(
        self,
        endpoint: WebhookEndpoint,
        outgoing: OutgoingWebhook,
        item_count: int,
        *,
        duplicate: bool = False,
    ) -> Delivery:
        delivery = Delivery(
            id=outgoing.id,
            endpoint_id=endpoint.id,
            url=endpoint.url,
            body=outgoing.body,
            headers=outgoing.headers,
            item_count=item_count,
            created_at=self._now(),
            duplicate=duplicate,
        )
        self._log.append(delivery)
        return delivery

    async def _attempt_due(self) -> None:
        now = time.monotonic()
        due = [
            d for d in self._pending if d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        if not due:
            return
        for delivery in due:
            self._pending.remove(delivery)
        by_endpoint: dict[str, list[Delivery]] = {}
        for delivery in due:
            by_endpoint.setdefault(delivery.endpoint_id, []).append(delivery)
        self._in_flight += len(due)
        try:
            # Unless reordering, one endpoint receives its webhooks one at a time, in order.
            if self._policy.reorder:
                await asyncio.gather(*(self._attempt(d) for d in due))
            else:
                await asyncio.gather(*(self._attempt_in_order(g) for g in by_endpoint.values()))
        finally:
            self._in_flight -= len(due)

    async def _attempt_in_order(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            await self._attempt(delivery)

    async def _attempt(self, delivery: Delivery) -> None:
        client = self._http_client()
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        preview = ""
        try:
            response = await client.post(
                delivery.url, content=delivery.body, headers=delivery.headers
            )
            status = response.status_code
            preview = response.text[:_PREVIEW_CHARS]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:_PREVIEW_CHARS]
        delivery.attempts.append(
            DeliveryAttempt(
                at=self._now(),
                status_code=status,
                error=error,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                response_preview=preview,
            )
        )
        # Redirects are not followed and count as failures, like any non-2xx.
        if status is not None and 200 <= status < 300:
            delivery.state = "delivered"
            delivery.next_attempt_at = None
            return
        retries_done = len(delivery.attempts) - 1
        delays = self._policy.retry_delays_seconds
        if retries_done >= len(delays):
            delivery.state = "failed"
            delivery.next_attempt_at = None
            return
        delivery.next_attempt_at = time.monotonic() + delays[retries_done]
        self._pending.append(delivery)

    def _http_client(self) -> httpx.AsyncClient:
        # Built here rather than with the product's client factory: simulators share no
        # code with the adapters they are meant to check.
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self._policy.timeout_seconds),
                follow_redirects=False,
            )
        return self._client

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)
