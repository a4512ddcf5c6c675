"""Fault injection for simulated providers: latency, 5xx, spurious 429s and hung calls.

Benchmarks and reliability tests switch these per run. Probabilistic faults draw from a
seeded generator so a run can be replayed; `next_faults` queues exact faults for the
next matching calls when a test needs certainty rather than odds.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send


class FaultKind(StrEnum):
    NONE = "none"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"


class FaultConfig(BaseModel):
    """What to inject. Rates are probabilities per call, checked in the order below."""

    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_seconds: float = Field(default=30.0, ge=0)
    server_error_rate: float = Field(default=0.0, ge=0, le=1)
    server_error_status: int = Field(default=500, ge=500, le=599)
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    path_prefixes: list[str] = Field(
        default_factory=list, description="only calls under these prefixes; empty means all"
    )
    next_faults: list[FaultKind] = Field(
        default_factory=list, description="consumed one per matching call before any rate"
    )


@dataclass(frozen=True)
class FaultDecision:
    kind: FaultKind
    latency_seconds: float
    status: int
    timeout_seconds: float


class FaultInjector:
    """Decides, call by call, which fault (if any) to inject."""

    def __init__(self, config: FaultConfig | None = None, *, seed: int | None = None) -> None:
        self._config = config or FaultConfig()
        self._random = random.Random(seed)  # noqa: S311 - fault odds, not secrets
        self._lock = threading.Lock()

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config

    def reset(self) -> None:
        self.configure(FaultConfig())

    def decide(self, path: str) -> FaultDecision:
        with self._lock:
            config = self._config
            if config.path_prefixes and not any(path.startswith(p) for p in config.path_prefixes):
                return FaultDecision(FaultKind.NONE, 0.0, 0, 0.0)
            latency = config.latency_ms
            if config.latency_jitter_ms:
                latency += self._random.uniform(0, config.latency_jitter_ms)
            kind = self._pick_kind(config)
        return FaultDecision(
            kind, latency / 1000, config.server_error_status, config.timeout_seconds
        )

    def _pick_kind(self, config: FaultConfig) -> FaultKind:
        if config.next_faults:
            return config.next_faults.pop(0)
        for kind, rate in (
            (FaultKind.TIMEOUT, config.timeout_rate),
            (FaultKind.SERVER_ERROR, config.server_error_rate),
            (FaultKind.RATE_LIMITED, config.rate_limit_rate),
        ):
            if rate and self._random.random() < rate:
                return kind
        return FaultKind.NONE


FaultResponder = Callable[[FaultDecision, Scope], Response]


class FaultMiddleware:
    """ASGI middleware applying an injector's decisions before the app sees the call.

    `respond` renders the provider's own error body for a fault, so each simulator keeps
    its wire format. A TIMEOUT holds the call for `timeout_seconds` and then answers 504,
    which a client with a shorter timeout never sees.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        injector: FaultInjector,
        respond: FaultResponder,
        exempt_prefixes: Sequence[str] = ("/_sim",),
    ) -> None:
        self.app = app
        self.injector = injector
        self.respond = respond
        self.exempt_prefixes = tuple(exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        decision = self.injector.decide(str(scope["path"]))
        if decision.latency_seconds:
            await asyncio.sleep(decision.latency_seconds)
        if decision.kind is FaultKind.TIMEOUT:
            await asyncio.sleep(decision.timeout_seconds)
        if decision.kind is FaultKind.NONE:
            await self.app(scope, receive, send)
            return
        await self.respond(decision, scope)(scope, receive, send)
