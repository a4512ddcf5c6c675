"""The one exception tree of the Zoho adapter; callers never see httpx or Authlib errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class ZohoError(Exception):
    """Zoho refused or failed a call. `code` is Zoho's own code (e.g. `INVALID_DATA`)."""

    transient: ClassVar[bool] = False

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        details: dict[str, Any] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.status_code = status_code


class ZohoTransientError(ZohoError):
    """Network failure, timeout or 5xx: worth retrying later."""

    transient: ClassVar[bool] = True


class ZohoRateLimited(ZohoTransientError):
    """429 / TOO_MANY_REQUESTS (credits or concurrency), or Accounts' "Access Denied" throttle."""


class ZohoInvalidToken(ZohoError):
    """The access token was still refused after one refresh and retry."""


class ZohoScopeMismatch(ZohoError):
    """The grant lacks a scope this call needs: the org must re-authorize."""


class ZohoPermissionDenied(ZohoError):
    """NO_PERMISSION: the authorizing user's profile may not do this."""


class ZohoNotFound(ZohoError):
    """404, INVALID_URL_PATTERN, or a record id that does not exist."""


class ZohoInvalidData(ZohoError):
    """A request Zoho rejected as malformed (INVALID_DATA, MANDATORY_NOT_FOUND, ...)."""


class ZohoAccountsError(ZohoError):
    """An Accounts answer without `access_token`; `code` is its `error` value."""


class ZohoGrantRevoked(ZohoAccountsError):
    """`invalid_code` on refresh: the refresh token is revoked or evicted; re-authorize."""


class ZohoSchemaMissing(ZohoError):
    """The org lacks modules/fields we write to, or our id fields are not unique."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing: list[str] = list(missing)
        super().__init__(
            "SCHEMA_MISSING",
            "Zoho CRM is not set up for GoCardless: " + "; ".join(self.missing),
            details={"missing": self.missing},
        )
