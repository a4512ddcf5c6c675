"""GoCardless failures as one exception tree, built from the API's error bodies.

Mapping follows the official clients: HTTP status first (401, 403, 404, 429, 5xx), then
`error.type`. Every exception says whether repeating the same call may succeed (`transient`),
which is what the retry policy and the job runner decide on.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

PREVIEW_CHARS = 500


class GoCardlessError(Exception):
    """A GoCardless call that did not succeed; `transient` means a retry may succeed."""

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_type: str = "",
        code: int | None = None,
        reasons: list[str] | None = None,
        errors: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        body_preview: str | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = error_type
        self.code = code
        self.reasons = reasons or []
        self.errors = errors or []
        self.request_id = request_id
        self.body_preview = body_preview
        if transient is not None:
            self.transient = transient

    def has_reason(self, reason: str) -> bool:
        return reason in self.reasons

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.type:
            parts.append(f"type={self.type}")
        if self.reasons:
            parts.append(f"reasons={','.join(self.reasons)}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class GoCardlessTransportError(GoCardlessError):
    """Network failure, timeout, or a non-JSON 5xx (an HTML page from a proxy)."""

    transient = True


class GoCardlessInternalError(GoCardlessError):
    """A fault inside GoCardless (`type: gocardless`, 5xx)."""

    transient = True


class GoCardlessRateLimited(GoCardlessError):
    """429: over the per-merchant budget; `reset_at` is when the budget refills."""

    transient = True

    def __init__(self, message: str, *, reset_at: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reset_at = reset_at


class GoCardlessInvalidApiUsage(GoCardlessError):
    """The request itself is wrong; repeating it cannot help."""


class GoCardlessUnauthorized(GoCardlessInvalidApiUsage):
    """401: the token was revoked or never valid."""


class GoCardlessForbidden(GoCardlessInvalidApiUsage):
    """403: the token lacks the scope (e.g. `read_only` where `read_write` is needed)."""


class GoCardlessNotFound(GoCardlessInvalidApiUsage):
    """404: no such resource for this merchant."""


class GoCardlessInvalidState(GoCardlessError):
    """The resource's state forbids the action (`cancellation_failed`, `mandate_is_inactive`)."""


class GoCardlessValidationFailed(GoCardlessError):
    """Bad parameters; `errors` carries `field` and `request_pointer` per problem."""


class GoCardlessOAuthError(GoCardlessError):
    """A Connect OAuth step failed (`reasons` holds the OAuth error, e.g. `invalid_grant`)."""


_BY_STATUS: dict[int, type[GoCardlessError]] = {
    401: GoCardlessUnauthorized,
    403: GoCardlessForbidden,
    404: GoCardlessNotFound,
    429: GoCardlessRateLimited,
}
_BY_TYPE: dict[str, type[GoCardlessError]] = {
    "gocardless": GoCardlessInternalError,
    "invalid_api_usage": GoCardlessInvalidApiUsage,
    "invalid_state": GoCardlessInvalidState,
    "validation_failed": GoCardlessValidationFailed,
}


def parse_http_date(value: str | None) -> datetime | None:
    """`RateLimit-Reset` is an HTTP date (`Wed, 19 Apr 2023 16:10:00 GMT`); junk gives None."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def preview(text: str) -> str:
    return text[:PREVIEW_CHARS]


def error_from_response(response: httpx.Response) -> GoCardlessError:
    """The exception for a non-2xx answer, whatever shape its body has."""
    status = response.status_code
    header_request_id = response.headers.get("x-request-id")
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None

    if isinstance(error, dict):
        return _from_error_object(response, error, header_request_id)
    if isinstance(error, str):
        # The API sometimes answers `{"error": "bank_authorisation_expired"}`; the Node client
        # files that under internal errors, which is only worth retrying when the status is 5xx.
        cls = _BY_STATUS.get(status) or (
            GoCardlessInternalError if status >= 500 else GoCardlessError
        )
        return _build(
            cls,
            response,
            error,
            status_code=status,
            error_type="gocardless",
            code=status,
            reasons=[error],
            request_id=header_request_id,
        )
    # No GoCardless error object at all: a proxy page, an empty body, or foreign JSON.
    cls = _BY_STATUS.get(status) or (GoCardlessTransportError if status >= 500 else GoCardlessError)
    return _build(
        cls,
        response,
        f"HTTP {status} without a GoCardless error body",
        status_code=status,
        request_id=header_request_id,
        body_preview=preview(response.text),
    )


def _from_error_object(
    response: httpx.Response, error: dict[str, Any], header_request_id: str | None
) -> GoCardlessError:
    status = response.status_code
    error_type = str(error.get("type") or "")
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = (
            GoCardlessInternalError if status >= 500 else _BY_TYPE.get(error_type, GoCardlessError)
        )
    raw_errors = error.get("errors")
    errors = [e for e in raw_errors if isinstance(e, dict)] if isinstance(raw_errors, list) else []
    code = error.get("code")
    return _build(
        cls,
        response,
        str(error.get("message") or f"GoCardless error {status}"),
        status_code=status,
        error_type=error_type,
        code=code if isinstance(code, int) else status,
        reasons=[str(e["reason"]) for e in errors if e.get("reason")],
        errors=errors,
        request_id=error.get("request_id") or header_request_id,
    )


def _build(
    cls: type[GoCardlessError], response: httpx.Response, message: str, **kwargs: Any
) -> GoCardlessError:
    if cls is GoCardlessRateLimited:
        reset_at = parse_http_date(response.headers.get("ratelimit-reset"))
        return GoCardlessRateLimited(message, reset_at=reset_at, **kwargs)
    return cls(message, **kwargs)
