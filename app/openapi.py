"""The OpenAPI document, finished where FastAPI cannot tell from the routes alone.

Every error answer is `application/problem+json` with the `Problem` schema (FastAPI would
put its own 422 shape under `application/json`); operations that take a body also answer
400, 408 and 413; the credentials are named as security schemes; the webhook body, which
the receiver must read raw to check its signature, is described here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.errors import (
    PROBLEM_JSON,
    AppError,
    BadRequest,
    ContentTooLarge,
    RequestTimeout,
    ValidationFailed,
)
from app.schemas.problems import Problem, problem_example
from app.schemas.webhooks import GoCardlessWebhook

_REF = "#/components/schemas/{model}"
HTML = "text/html"
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "ApiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A widget session (from Zoho sign-in) or the installation's API key.",
    },
    "AdminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The operator's ADMIN_TOKEN.",
    },
    "MetricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICS_TOKEN, needed only when that setting is set.",
    },
    "WebhookSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Webhook-Signature",
        "description": "Hex HMAC-SHA256 of the raw body with GOCARDLESS_WEBHOOK_SECRET.",
    },
}
WEBHOOK_PATH = "/webhooks/gocardless"
_BODY_ERRORS: tuple[type[AppError], ...] = (BadRequest, RequestTimeout, ContentTooLarge)


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()
        finish(spec)  # idempotent: FastAPI hands back its cached document
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _security(path: str) -> list[dict[str, list[str]]] | None:
    if path in ("/api/v1/installations", "/api/v1/operations/installations"):
        return [{"AdminToken": []}]
    if path == "/metrics":
        return [{"MetricsToken": []}, {}]  # {}: no token when METRICS_TOKEN is unset
    if path.startswith("/api/"):
        return [{"ApiKey": []}]
    if path == WEBHOOK_PATH:
        return [{"WebhookSignature": []}]
    return None


def finish(spec: dict[str, Any]) -> None:
    components = spec.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas.setdefault("Problem", Problem.model_json_schema(ref_template=_REF))
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            security = _security(path)
            if security is not None:
                operation["security"] = security
                _drop_credential_parameters(operation)
            if path == WEBHOOK_PATH and method == "post":
                operation["requestBody"] = _webhook_body(schemas)
            _problems(operation)
    # FastAPI's own validation-error shapes are never answered.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


# The headers the security schemes describe. OpenAPI ignores an `Authorization` parameter
# (3.1 §4.8.12.1), and a `Webhook-Signature` parameter beside the scheme would tell clients
# to send any string: the credentials are described once, as schemes.
_CREDENTIAL_HEADERS = {"authorization", "webhook-signature"}


def _drop_credential_parameters(operation: dict[str, Any]) -> None:
    parameters = [
        parameter
        for parameter in operation.get("parameters", [])
        if not (parameter["in"] == "header" and parameter["name"].lower() in _CREDENTIAL_HEADERS)
    ]
    if parameters:
        operation["parameters"] = parameters
    else:
        operation.pop("parameters", None)


def _webhook_body(schemas: dict[str, Any]) -> dict[str, Any]:
    schema = GoCardlessWebhook.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    schemas["GoCardlessWebhook"] = schema
    ref = {"$ref": _REF.format(model="GoCardlessWebhook")}
    return {"required": True, "content": {"application/json": {"schema": ref}}}


def _problems(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "requestBody" in operation:
        for error in _BODY_ERRORS:
            responses.setdefault(str(error.status), {"description": error.title, "content": {}})
    for status, response in responses.items():
        if status[0] not in "45":
            continue
        content = response.get("content", {})
        if HTML in content:
            continue  # a browser endpoint's error page, described by its route
        examples = content.get(PROBLEM_JSON, {}).get("examples") or _default_examples(status)
        response["content"] = {
            PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="Problem")}, "examples": examples}
        }


_DEFAULTS: tuple[type[AppError], ...] = (*_BODY_ERRORS, ValidationFailed)
_BY_STATUS: dict[str, type[AppError]] = {str(error.status): error for error in _DEFAULTS}


def _default_examples(status: str) -> dict[str, Any]:
    error = _BY_STATUS.get(status, AppError)
    return {error.code: {"value": problem_example(error)}}


__all__ = ["SECURITY_SCHEMES", "finish", "install_openapi"]
