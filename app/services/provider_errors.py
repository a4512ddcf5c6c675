"""The one place that turns provider failures into our problem codes."""

from __future__ import annotations

from app.adapters.gocardless.errors import (
    GoCardlessError,
    GoCardlessForbidden,
    GoCardlessNotFound,
    GoCardlessUnauthorized,
)
from app.adapters.zoho.errors import (
    ZohoError,
    ZohoInvalidToken,
    ZohoPermissionDenied,
    ZohoScopeMismatch,
)
from app.errors import (
    AppError,
    GoCardlessNotAuthorized,
    InternalError,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    ZohoNotAuthorized,
)


def provider_error_types() -> tuple[type[Exception], ...]:
    return (GoCardlessError, ZohoError)


def problem_for_provider_error(exc: Exception) -> AppError:
    if isinstance(exc, GoCardlessError):
        return _gocardless(exc)
    if isinstance(exc, ZohoError):
        return _zoho(exc)
    return InternalError("unexpected provider failure")


def _gocardless(exc: GoCardlessError) -> AppError:
    ref = f" (GoCardless request {exc.request_id})" if exc.request_id else ""
    if exc.transient:
        return ProviderUnavailable(f"GoCardless is not answering right now; try again{ref}")
    if isinstance(exc, GoCardlessUnauthorized | GoCardlessForbidden):
        return GoCardlessNotAuthorized(
            f"GoCardless refused our access; authorize GoCardless again{ref}"
        )
    if isinstance(exc, GoCardlessNotFound):
        return NotFound(f"GoCardless has no such resource{ref}")
    return ProviderError(f"GoCardless refused the request: {exc.message}{ref}")


def _zoho(exc: ZohoError) -> AppError:
    if exc.transient:
        return ProviderUnavailable("Zoho CRM is not answering right now; try again")
    if isinstance(exc, ZohoInvalidToken | ZohoScopeMismatch):
        return ZohoNotAuthorized("Zoho CRM refused our access; authorize Zoho CRM again")
    if isinstance(exc, ZohoPermissionDenied):
        return ProviderError("the authorizing Zoho user lacks a permission this needs")
    return ProviderError(f"Zoho CRM refused the request ({exc.code})")
