"""One GoCardless HTTP call: headers, pacing, error mapping and bounded retries.

Only calls that are safe to repeat are retried (reads, and creates carrying an idempotency
key); action endpoints such as cancel get exactly one attempt, as in the official clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random,
    wait_random_exponential,
)

from app.adapters.gocardless.errors import (
    GoCardlessError,
    GoCardlessRateLimited,
    GoCardlessTransportError,
    error_from_response,
    parse_http_date,
)
from app.adapters.gocardless.pacing import Priority, RatePacer
from app.adapters.http import USER_AGENT
from app.log import get_logger

API_VERSION = "2015-07-06"
# A 429 names when the window resets; waiting for it beats a blind backoff, but a skewed or
# absurd date must not park a worker for longer than one window.
MAX_RATE_LIMIT_WAIT = 65.0
_BACKOFF = wait_random_exponential(multiplier=0.5, max=30)
_JITTER = wait_random(0, 1)

Sleep = Callable[[float], Awaitable[None]]

log = get_logger(__name__)


class ApiTransport:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        access_token: SecretStr,
        pacer: RatePacer | None,
        priority: Priority,
        max_attempts: int,
        sleep: Sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._http = http
        self._base = api_url.rstrip("/")
        self._token = access_token
        self._pacer = pacer
        self._priority = priority
        self._max_attempts = max_attempts
        self._sleep = sleep

    async def send(
        self,
        method: str,
        path: str,
        *,
        retry: bool,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """The successful response; a failure raises the mapped `GoCardlessError`."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts if retry else 1),
            wait=_retry_wait,
            retry=retry_if_exception(_is_transient),
            sleep=self._sleep,
            before_sleep=_log_retry(method, path),
            reraise=True,
        )
        response: httpx.Response = await retrying(
            self._send_once, method, path, params, json_body, idempotency_key
        )
        return response

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Mapping[str, Any] | None,
        idempotency_key: str | None,
    ) -> httpx.Response:
        if self._pacer is not None:
            await self._pacer.acquire(self._priority)
        headers = {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "GoCardless-Version": API_VERSION,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = await self._http.request(
                method, self._base + path, params=params, json=json_body, headers=headers
            )
        except httpx.TransportError as exc:
            raise GoCardlessTransportError(f"{method} {path} failed: {type(exc).__name__}") from exc
        self._observe_rate_limit(response)
        if response.is_success:
            return response
        raise error_from_response(response)

    def _observe_rate_limit(self, response: httpx.Response) -> None:
        if self._pacer is None:
            return
        remaining = _int_header(response, "ratelimit-remaining")
        if remaining is None and response.status_code == 429:
            remaining = 0
        reset_at = parse_http_date(response.headers.get("ratelimit-reset"))
        self._pacer.observe(
            remaining=remaining,
            limit=_int_header(response, "ratelimit-limit"),
            reset_in=_seconds_until(reset_at) if reset_at else None,
        )


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, GoCardlessError) and exc.transient


def _retry_wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, GoCardlessRateLimited) and exc.reset_at is not None:
        until_reset = min(max(_seconds_until(exc.reset_at), 0.0), MAX_RATE_LIMIT_WAIT)
        return until_reset + float(_JITTER(state))
    return float(_BACKOFF(state))


def _log_retry(method: str, path: str) -> Callable[[RetryCallState], None]:
    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "gocardless.request.retry",
            method=method,
            path=path,
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            error=type(exc).__name__,
            status=getattr(exc, "status_code", None),
            request_id=getattr(exc, "request_id", None),
        )

    return log_retry


def _seconds_until(moment: datetime) -> float:
    return (moment - datetime.now(UTC)).total_seconds()


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
