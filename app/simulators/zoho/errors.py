"""Zoho's error envelopes, as the CRM and Accounts servers send them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.simulators.zoho.jsonio import ZohoJSONResponse


class ZohoApiError(Exception):
    """Aborts a request with a ready Zoho body (the top-level envelope or a `data` list)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("code", "error"))
        self.status = status
        self.body = body


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


def api_error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> ZohoApiError:
    return ZohoApiError(status, envelope(code, message, details))


def invalid_token() -> ZohoApiError:
    return api_error(401, "INVALID_TOKEN", "invalid oauth token")


def authentication_failure() -> ZohoApiError:
    return api_error(401, "AUTHENTICATION_FAILURE", "Authentication failed")


def scope_mismatch() -> ZohoApiError:
    return api_error(401, "OAUTH_SCOPE_MISMATCH", "Unauthorized")


def invalid_module() -> ZohoApiError:
    return api_error(
        400,
        "INVALID_MODULE",
        "the module name given seems to be invalid",
        {"resource_path_index": 0},
    )


def invalid_url_pattern() -> ZohoApiError:
    return api_error(
        404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
    )


def required_param_missing(param: str) -> ZohoApiError:
    return api_error(
        400, "REQUIRED_PARAM_MISSING", "required param is missing", {"param_name": param}
    )


def invalid_param(param: str, **extra: Any) -> ZohoApiError:
    return api_error(400, "INVALID_DATA", "invalid data", {"param_name": param, **extra})


def too_many_requests() -> ZohoApiError:
    return api_error(429, "TOO_MANY_REQUESTS", "too many requests continuously")


async def render_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ZohoApiError)
    return ZohoJSONResponse(exc.body, status_code=exc.status)
