"""The GoCardless adapter: the only code that knows GoCardless's wire formats."""

from app.adapters.gocardless.connect import ConnectToken, GoCardlessConnect
from app.adapters.gocardless.errors import (
    GoCardlessError,
    GoCardlessForbidden,
    GoCardlessInternalError,
    GoCardlessInvalidApiUsage,
    GoCardlessInvalidState,
    GoCardlessNotFound,
    GoCardlessOAuthError,
    GoCardlessRateLimited,
    GoCardlessTransportError,
    GoCardlessUnauthorized,
    GoCardlessValidationFailed,
)

__all__ = [
    "ConnectToken",
    "GoCardlessConnect",
    "GoCardlessError",
    "GoCardlessForbidden",
    "GoCardlessInternalError",
    "GoCardlessInvalidApiUsage",
    "GoCardlessInvalidState",
    "GoCardlessNotFound",
    "GoCardlessOAuthError",
    "GoCardlessRateLimited",
    "GoCardlessTransportError",
    "GoCardlessUnauthorized",
    "GoCardlessValidationFailed",
]
