"""Health, readiness, metrics, OpenAPI, migrations agreeing with models, settings, logging."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest
import structlog
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from asgi_lifespan import LifespanManager
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from app.crypto import TokenCipher
from app.log import configure_logging, get_logger
from app.main import create_app
from app.models import Base
from app.settings import ConfigurationError, load_settings
from tests.conftest import make_settings


async def test_healthz_readyz_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'http_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text


async def test_the_widget_files_are_counted_under_one_route_template(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/widget/app/widget.html")).status_code == 200
    assert (await client.get("/widget/app/css/widget.css")).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/widget/{path}",status="200"} 2.0' in metrics
    assert 'route="unmatched"' not in metrics


async def test_the_root_is_a_page_for_people_with_the_docs_and_health(
    client: httpx.AsyncClient,
) -> None:
    root = await client.get("/")
    assert root.status_code == 200 and root.headers["content-type"].startswith("text/html")
    for link in ("/docs", "/healthz", "/readyz", "/metrics"):
        assert f'href="{link}"' in root.text
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert generated.headers["x-request-id"] not in ("", "bad id\nwith newline")


async def test_openapi_documents_endpoints_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/api/v1/installations",
        "/api/v1/installation",
        "/oauth/zoho/callback",
        "/oauth/gocardless/callback",
        "/healthz",
        "/readyz",
    ):
        assert path in paths
    created = paths["/api/v1/installations"]["post"]
    assert {"201", "401", "409", "422"} <= created["responses"].keys()
    examples = created["responses"]["409"]["content"]["application/problem+json"]["examples"]
    assert examples["installation_exists"]["value"]["code"] == "installation_exists"
    assert (await client.get("/docs")).status_code == 200


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    def diff(connection: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []


def test_missing_required_setting_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "ENCRYPTION_KEYS", "ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="missing required environment variable"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("ADMIN_TOKEN", "a" * 32)
    monkeypatch.setenv("ENCRYPTION_KEYS", "not-a-key")
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEYS"):
        load_settings()


def test_cli_start_up_fails_with_one_line() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "missing required environment variable" in lines[0]


def test_encryption_keys_rotate() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ciphertext = TokenCipher([SecretStr(old)]).encrypt("token")
    rotated = TokenCipher([SecretStr(new), SecretStr(old)])
    assert rotated.decrypt(ciphertext) == "token"
    assert TokenCipher([SecretStr(new)]).decrypt(rotated.encrypt("t2")) == "t2"
    with pytest.raises(ValueError, match="no longer configured"):
        TokenCipher([SecretStr(new)]).decrypt(ciphertext)


def test_logs_redact_secrets() -> None:
    stream = io.StringIO()
    configure_logging(json=True, level="INFO")
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]
    with structlog.contextvars.bound_contextvars(request_id="req-1"):
        get_logger("test").info(
            "oauth.done",
            access_token="1000.secret-a",
            headers={"Authorization": "Bearer secret-b", "Accept": "json"},
            note="sent Zoho-oauthtoken 1000.secret-c to crm",
        )
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert "secret" not in stream.getvalue()
    assert line["request_id"] == "req-1"
    assert line["event"] == "oauth.done"
    assert line["headers"]["Accept"] == "json"


async def test_cors_is_off_by_default_and_on_for_configured_origins() -> None:
    origin = "https://acme.zappsusercontent.com"
    for origins, allowed in (("", False), (origin, True)):
        app = create_app(make_settings(cors_allowed_origins=origins))
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.options(
                    "/api/v1/installation",
                    headers={
                        "Origin": origin,
                        "Access-Control-Request-Method": "GET",
                        "Access-Control-Request-Headers": "authorization,content-type",
                    },
                )
        assert (response.headers.get("access-control-allow-origin") == origin) is allowed


async def test_every_api_operation_documents_errors_and_examples(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            errors = [code for code in operation["responses"] if code[0] in "45"]
            assert errors, f"{method} {path} documents no error"
            for code in errors:
                content = operation["responses"][code]["content"]["application/problem+json"]
                assert content["examples"], f"{method} {path} {code} has no example"
    for name in ("InstallationCreate", "InstallationCreated", "PaymentCreate", "PaymentOut"):
        assert schemas[name].get("examples"), name


def _strings(schema: dict[str, Any], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """Every string schema reachable from `schema` (through refs, properties, items, anyOf)."""
    if "$ref" in schema:
        return _strings(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
    found = [schema] if schema.get("type") == "string" and "enum" not in schema else []
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            found += _strings(part, schemas)
    for part in schema.get("properties", {}).values():
        found += _strings(part, schemas)
    if isinstance(schema.get("items"), dict):
        found += _strings(schema["items"], schemas)
    return found


async def test_openapi_says_what_the_service_answers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == schemes["ApiKey"] | {"type": "http", "scheme": "bearer"}
    assert (
        schemes["WebhookSignature"] | {"in": "header", "name": "Webhook-Signature"}
        == (schemes["WebhookSignature"])
    )
    assert "HTTPValidationError" not in schemas
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method} {path}"
            for code, response in operation["responses"].items():
                if code[0] in "45" and list(response["content"]) == ["text/html"]:
                    # The OAuth browser endpoints answer their refusals as HTML pages.
                    assert path.startswith("/oauth/"), where
                elif code[0] in "45":
                    # Problem, and only problem+json, on every other error.
                    assert list(response["content"]) == ["application/problem+json"], where
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, where
            if path.startswith("/api/") or path.startswith("/webhooks/"):
                assert operation.get("security"), f"{where} names no credential"
                # The credentials are described once, as security schemes.
                headers = {p["name"].lower() for p in operation.get("parameters", [])}
                assert not headers & {"authorization", "webhook-signature"}, where
            if "requestBody" in operation:
                assert {"400", "413"} <= operation["responses"].keys(), where
            # Strings the service bounds say so: path ids and request bodies.
            parameters = operation.get("parameters", [])
            path_params = [p["schema"] for p in parameters if p["in"] == "path"]
            bounded = [s for p in path_params for s in _strings(p, schemas)]
            if path.startswith("/api/") and "requestBody" in operation:
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                bounded += _strings(body, schemas)
            for string in bounded:
                assert "maxLength" in string or "format" in string, (where, string)
    webhook = spec["paths"]["/webhooks/gocardless"]["post"]
    assert webhook["security"] == [{"WebhookSignature": []}]
    body = webhook["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/GoCardlessWebhook"}
    assert "events" in schemas["GoCardlessWebhook"]["required"]
    assert {"498", "400", "413"} <= webhook["responses"].keys()
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
    operator = spec["paths"]["/api/v1/operations/installations"]["get"]
    assert operator["security"] == [{"AdminToken": []}]
    zoho_callback = spec["paths"]["/oauth/zoho/callback"]["get"]["responses"]
    assert {"400", "403", "404"} <= zoho_callback.keys()
    assert list(zoho_callback["400"]["content"]) == ["text/html"]
