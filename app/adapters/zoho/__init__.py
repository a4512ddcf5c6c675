"""Zoho adapter: the only code that knows Zoho Accounts' and Zoho CRM's wire formats."""

from app.adapters.zoho.accounts import (
    DEFAULT_SCOPES,
    KNOWN_ACCOUNTS_HOSTS,
    ZohoAccounts,
    ZohoTokens,
    is_trusted_accounts_server,
)
from app.adapters.zoho.errors import (
    ZohoAccountsError,
    ZohoError,
    ZohoGrantRevoked,
    ZohoInvalidData,
    ZohoInvalidToken,
    ZohoNotFound,
    ZohoPermissionDenied,
    ZohoRateLimited,
    ZohoSchemaMissing,
    ZohoScopeMismatch,
    ZohoTransientError,
)

__all__ = [
    "DEFAULT_SCOPES",
    "KNOWN_ACCOUNTS_HOSTS",
    "ZohoAccounts",
    "ZohoAccountsError",
    "ZohoError",
    "ZohoGrantRevoked",
    "ZohoInvalidData",
    "ZohoInvalidToken",
    "ZohoNotFound",
    "ZohoPermissionDenied",
    "ZohoRateLimited",
    "ZohoSchemaMissing",
    "ZohoScopeMismatch",
    "ZohoTokens",
    "ZohoTransientError",
    "is_trusted_accounts_server",
]
