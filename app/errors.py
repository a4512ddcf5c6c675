"""One error tree for the service, rendered as RFC 9457 problem+json with a stable `code`."""

from __future__ import annotations

from typing import Any, ClassVar, Self

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """An answer for the caller: status, stable code, plain-words detail, optional extras."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        # Response headers the status calls for (Allow on 405, WWW-Authenticate on 401).
        self.headers = headers or {}
        self.keeps_changes = False

    def keeping_changes(self) -> Self:
        """The request's transaction still commits: what it learned on the way stays true."""
        self.keeps_changes = True
        return self

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://gocardless-zoho.dev/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(AppError):
    status, code, title = 400, "bad_request", "Bad request"


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", "The request is not valid"


class Unauthenticated(AppError):
    status, code, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str, **extra: Any) -> None:
        # RFC 9110 §11.6.1: a 401 names the scheme that would be accepted.
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Not allowed"


class UserNotInAudience(AppError):
    status, code, title = 403, "user_not_in_audience", "User not allowed to use the extension"


class AdminRequired(AppError):
    status, code, title = 403, "admin_required", "Only a CRM administrator may do this"


class NotInstalled(AppError):
    status, code, title = 404, "not_installed", "The extension is not installed for this org"


class TooManyRequests(AppError):
    """Asked again too soon; `Retry-After` says in how many seconds."""

    status, code, title = 429, "too_many_requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int = 60, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, retry_after)


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(AppError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class RequestTimeout(AppError):
    status, code, title = 408, "request_timeout", "The request body came too slowly"


class ContentTooLarge(AppError):
    status, code, title = 413, "content_too_large", "The request body is too large"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class InstallationExists(AppError):
    status, code, title = 409, "installation_exists", "Organisation already installed"


class NeedsAuthorization(AppError):
    """An account must be (re-)authorized first. The answer carries the authorize link only
    when the caller is an admin (see app/main.py)."""

    provider: ClassVar[str]


class GoCardlessNotAuthorized(NeedsAuthorization):
    status, code, title = 409, "gocardless_not_authorized", "Authorize GoCardless first"
    provider = "gocardless"


class GoCardlessAccountMismatch(AppError):
    status, code, title = (
        409,
        "gocardless_account_mismatch",
        "Another GoCardless account is connected",
    )


class GoCardlessAccountInactive(AppError):
    status, code, title = 409, "gocardless_account_inactive", "GoCardless account not active"


class ZohoNotAuthorized(NeedsAuthorization):
    status, code, title = 409, "zoho_not_authorized", "Authorize Zoho CRM first"
    provider = "zoho"


class ProviderUnavailable(AppError):
    status, code, title = 503, "provider_unavailable", "A provider is unavailable"


class ProviderError(AppError):
    status, code, title = 502, "provider_error", "A provider answered with an error"


class NotReady(AppError):
    status, code, title = 503, "not_ready", "The service is not ready"


class InternalError(AppError):
    status, code, title = 500, "internal_error", "Internal error"


__all__ = [
    "PROBLEM_JSON",
    "AdminRequired",
    "AppError",
    "BadRequest",
    "Conflict",
    "ContentTooLarge",
    "Forbidden",
    "GoCardlessAccountInactive",
    "GoCardlessAccountMismatch",
    "GoCardlessNotAuthorized",
    "InstallationExists",
    "InternalError",
    "MethodNotAllowed",
    "NeedsAuthorization",
    "NotFound",
    "NotInstalled",
    "NotReady",
    "ProviderError",
    "ProviderUnavailable",
    "RequestTimeout",
    "TooManyRequests",
    "Unauthenticated",
    "UserNotInAudience",
    "ValidationFailed",
    "ZohoNotAuthorized",
]
