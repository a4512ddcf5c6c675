"""One authorized, capped, retried call to the Zoho CRM API, and Zoho's errors as ours.

- auth: `Authorization: Zoho-oauthtoken ...`; on INVALID_TOKEN ask the token source for
  a fresh token once and repeat the call (a 401 means Zoho did nothing, so this is safe
  even for a send-mail);
- concurrency: the org's limiter is held only while a request is on the wire, never
  during a backoff sleep or a token refresh;
- backoff: Zoho sends no `Retry-After`, so transient failures wait on our own schedule,
  random in [0, min(cap, base * 2**n)] ("full jitter") for at most `max_attempts` tries.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from app.adapters.zoho.errors import (
    ZohoError,
    ZohoInvalidData,
    ZohoInvalidToken,
    ZohoNotFound,
    ZohoPermissionDenied,
    ZohoRateLimited,
    ZohoScopeMismatch,
    ZohoTransientError,
)
from app.log import get_logger

log = get_logger(__name__)

API_PATH = "/crm/v8"
# The code of a network failure before the request left us: safe to repeat anything.
NOT_SENT = "CONNECT_FAILED"
_INVALID_DATA_CODES = frozenset(
    {"INVALID_DATA", "MANDATORY_NOT_FOUND", "DUPLICATE_DATA", "REQUIRED_PARAM_MISSING"}
)
_NOT_FOUND_CODES = frozenset({"INVALID_URL_PATTERN", "INVALID_MODULE", "RESOURCE_NOT_FOUND"})

Params = Mapping[str, str | int]
Sleep = Callable[[float], Awaitable[None]]


class ZohoTokenSource(Protocol):
    async def access_token(self) -> str:
        """The current (maybe cached) access token."""
        ...

    async def refreshed_access_token(self, stale: str) -> str:
        """A token newer than `stale`; concurrent callers share one refresh."""
        ...


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # JSON has only one number type. Hand json a float only when its shortest repr
        # is exactly this decimal, so the number on the wire is the one we meant.
        as_float = float(value)
        if Decimal(repr(as_float)) != value:
            raise ValueError(f"{value} cannot be sent to Zoho without rounding")
        return as_float
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("Zoho date-times need a time zone")
        # Zoho's date-time format is yyyy-MM-ddTHH:mm:ss±HH:mm, without fractions.
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(body: object) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def _load_json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        # Fractions as Decimal: amounts must never pass through float on the way in.
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None


def _envelope(body: Any) -> dict[str, Any]:
    """Zoho's `{code, details, message, status}`, top-level or as the first row of `data`."""
    if isinstance(body, dict):
        if "code" in body:
            return body
        rows = body.get("data")
        if isinstance(rows, list) and rows and isinstance(rows[0], dict) and "code" in rows[0]:
            row: dict[str, Any] = rows[0]
            return row
    return {}


def error_from_envelope(envelope: Mapping[str, Any], status: int | None) -> ZohoError:
    """Zoho's error (top-level or one row's) as ours; `status` is None for a row in a 2xx."""
    code = str(envelope.get("code") or f"HTTP_{status}")
    message = str(envelope.get("message") or "")
    raw_details = envelope.get("details")
    details = raw_details if isinstance(raw_details, dict) else {}
    cls: type[ZohoError]
    if status == 429 or code == "TOO_MANY_REQUESTS":
        cls = ZohoRateLimited
    elif status is not None and status >= 500:
        cls = ZohoTransientError
    elif code == "OAUTH_SCOPE_MISMATCH":
        cls = ZohoScopeMismatch
    elif status == 401 or code in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE"):
        cls = ZohoInvalidToken
    elif status == 403 or code == "NO_PERMISSION":
        cls = ZohoPermissionDenied
    elif status == 404 or code in _NOT_FOUND_CODES:
        cls = ZohoNotFound
    elif code in _INVALID_DATA_CODES:
        cls = ZohoInvalidData
    else:
        cls = ZohoError
    return cls(code, message, details=details, status_code=status)


def error_from_response(response: httpx.Response) -> ZohoError:
    return error_from_envelope(_envelope(_load_json(response)), response.status_code)


def _invalid_token(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    return _envelope(_load_json(response)).get("code") != "OAUTH_SCOPE_MISMATCH"


class ZohoRequester:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base: str,
        tokens: ZohoTokenSource,
        limiter: contextlib.AbstractAsyncContextManager[Any],
        max_attempts: int,
        backoff_base: float,
        backoff_cap: float,
        sleep: Sleep,
    ) -> None:
        self._http = http
        self._base = api_base.rstrip("/") + API_PATH
        self._tokens = tokens
        self._limiter = limiter
        self._max_attempts = max_attempts
        self._wait = wait_random_exponential(multiplier=backoff_base, max=backoff_cap)
        self._sleep = sleep

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: object = None,
        idempotent: bool = True,
        rows: bool = False,
    ) -> Any:
        """The parsed JSON answer; None for 204/304 (Zoho's "nothing").

        `rows`: a 400 carrying a per-record `data` array is a result, not an error
        (Zoho answers 400 when every record of a write failed).
        `idempotent=False`: repeat only what Zoho certainly did not process.
        """
        content = dump_json(body) if body is not None else None

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, ZohoRateLimited):
                return True
            if isinstance(exc, ZohoTransientError):
                return idempotent or exc.code == NOT_SENT
            return False

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(retryable),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return await retrying(self._authorized, method, path, params, content, rows)

    async def _authorized(
        self, method: str, path: str, params: Params | None, content: bytes | None, rows: bool
    ) -> Any:
        token = await self._tokens.access_token()
        response = await self._send(method, path, params, content, token)
        if _invalid_token(response):
            token = await self._tokens.refreshed_access_token(token)
            response = await self._send(method, path, params, content, token)
        return self._result(response, rows)

    async def _send(
        self,
        method: str,
        path: str,
        params: Params | None,
        content: bytes | None,
        token: str,
    ) -> httpx.Response:
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._limiter:
                return await self._http.request(
                    method, self._base + path, params=params, content=content, headers=headers
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ZohoTransientError(NOT_SENT, type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise ZohoTransientError("NETWORK_ERROR", type(exc).__name__) from None

    @staticmethod
    def _result(response: httpx.Response, rows: bool) -> Any:
        status = response.status_code
        if status in (204, 304):
            return None
        if response.is_success:
            return _load_json(response)
        if rows and status == 400:
            body = _load_json(response)
            if isinstance(body, dict) and isinstance(body.get("data"), list):
                return body
        raise error_from_response(response)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "zoho.call.retry",
            attempt=state.attempt_number,
            code=getattr(exc, "code", None),
            status_code=getattr(exc, "status_code", None),
            wait_s=round(state.upcoming_sleep, 3),
        )
