"""GoCardless error bodies: `{"error": {type, code, message, documentation_url, request_id,
errors[]}}`, with the types, reasons and status codes the real API uses."""

from __future__ import annotations

from typing import Any

DOCS = "https://developer.gocardless.com/api-reference#"


class GoCardlessError(Exception):
    """Raised anywhere in a request; rendered by the app's exception handler."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        errors: list[dict[str, Any]],
        *,
        documentation: str,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.errors = errors
        self.documentation = documentation

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "error": {
                "type": self.error_type,
                "code": self.status,
                "message": self.message,
                "documentation_url": DOCS + self.documentation,
                "request_id": request_id,
                "errors": self.errors,
            }
        }


def api_usage(status: int, reason: str, message: str) -> GoCardlessError:
    return GoCardlessError(
        status,
        "invalid_api_usage",
        message,
        [{"reason": reason, "message": message}],
        documentation=reason,
    )


def invalid_state(reason: str, message: str, *, status: int = 422) -> GoCardlessError:
    return GoCardlessError(
        status,
        "invalid_state",
        message,
        [{"reason": reason, "message": message}],
        documentation=reason,
    )


def mandate_replaced(new_mandate: str) -> GoCardlessError:
    """A create on a replaced mandate names its replacement (`links.new_mandate`)."""
    message = (
        "The mandate has been replaced, because the creditor has moved to a new scheme "
        "identifier; use the new mandate"
    )
    return GoCardlessError(
        422,
        "invalid_state",
        message,
        [{"reason": "mandate_replaced", "message": message, "links": {"new_mandate": new_mandate}}],
        documentation="mandate_replaced",
    )


def unauthorized() -> GoCardlessError:
    return api_usage(401, "unauthorized", "Unauthorized")


def token_not_active() -> GoCardlessError:
    return api_usage(401, "access_token_not_active", "Access token not active")


def insufficient_permissions() -> GoCardlessError:
    return api_usage(403, "insufficient_permissions", "Insufficient permissions")


def rate_limit_exceeded() -> GoCardlessError:
    return api_usage(429, "rate_limit_exceeded", "Rate limit exceeded")


def resource_not_found() -> GoCardlessError:
    return api_usage(404, "resource_not_found", "Resource not found")


def link_not_found(link: str) -> GoCardlessError:
    return api_usage(400, "link_not_found", f"The linked {link} could not be found")


def internal_error(status: int = 500) -> GoCardlessError:
    return GoCardlessError(
        status,
        "gocardless",
        "Uh-oh! Something went wrong on our end.",
        [],
        documentation="internal_error",
    )


def idempotent_creation_conflict(resource_id: str) -> GoCardlessError:
    message = "A resource has already been created with this idempotency key"
    return GoCardlessError(
        409,
        "invalid_state",
        message,
        [
            {
                "reason": "idempotent_creation_conflict",
                "message": message,
                "links": {"conflicting_resource_id": resource_id},
            }
        ],
        documentation="idempotent_creation_conflict",
    )


def document_structure(problems: list[dict[str, Any]]) -> GoCardlessError:
    """Bad JSON shape or keys the schema does not permit (400, like the real validator)."""
    return GoCardlessError(
        400,
        "invalid_api_usage",
        "Invalid document structure",
        problems,
        documentation="invalid_document_structure",
    )


class FieldErrors:
    """Collects `validation_failed` entries; `raise_if_any` turns them into one 422."""

    def __init__(self, envelope: str) -> None:
        self.envelope = envelope
        self.errors: list[dict[str, Any]] = []

    def add(self, path: str, message: str) -> None:
        """`path` is slash-separated below the envelope, e.g. `links/mandate`."""
        self.errors.append(
            {
                "field": path.rsplit("/", 1)[-1],
                "message": message,
                "request_pointer": f"/{self.envelope}/{path}" if self.envelope else f"/{path}",
            }
        )

    def to_error(self) -> GoCardlessError:
        return GoCardlessError(
            422,
            "validation_failed",
            "Validation failed",
            self.errors,
            documentation="validation_failed",
        )

    def raise_if_any(self) -> None:
        if self.errors:
            raise self.to_error()
