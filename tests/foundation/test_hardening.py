"""Hardening: start-up refusals, security headers, closable /metrics and /docs, redacted
tracebacks, SQL parameters kept out of errors, odd accounts servers refused cleanly."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import create_engine
from app.log import configure_logging, get_logger
from app.main import create_app
from app.settings import ConfigurationError, Settings, load_settings
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.foundation.conftest import install
from tests.foundation.test_oauth import begin

LONG = "x" * 32


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SECRET_KEY", "short-secret", "SECRET_KEY: must be at least 32 characters"),
        ("ADMIN_TOKEN", "x" * 31, "ADMIN_TOKEN: must be at least 32 characters"),
        ("ENCRYPTION_KEYS", "", "ENCRYPTION_KEYS: is empty; set it to one or more"),
        ("ENCRYPTION_KEYS", " , ", "ENCRYPTION_KEYS: is empty"),
    ],
)
def test_start_up_refuses_weak_or_empty_secrets(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", LONG)
    monkeypatch.setenv("ADMIN_TOKEN", LONG)
    monkeypatch.setenv("ENCRYPTION_KEYS", "2U8sMXvAbv3NsQuH-TbIvNOYdlVPnjuxBpmm-4m6XEY=")
    load_settings()
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_security_headers(client: httpx.AsyncClient) -> None:
    api = await client.get("/api/v1/installation")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["referrer-policy"] == "no-referrer"
    oauth = await client.get("/oauth/zoho/start?link=nope")
    assert "frame-ancestors 'none'" in oauth.headers["content-security-policy"]
    assert oauth.headers["x-frame-options"] == "DENY"
    page = await client.get("/mandate-setup/complete")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    widget = await client.get("/widget/app/widget.html")
    assert widget.status_code == 200
    csp = widget.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://crm.zoho.com" in csp and "https://crm.zoho.eu" in csp
    assert "x-frame-options" not in widget.headers
    assert widget.headers["x-content-type-options"] == "nosniff"


async def test_widget_frame_ancestors_are_a_setting(clean_db: object) -> None:
    settings = make_settings(widget_frame_ancestors="https://crm.example.test")
    async with serving(settings) as client:
        csp = (await client.get("/widget/app/settings.html")).headers["content-security-policy"]
    assert "frame-ancestors 'self' https://crm.example.test;" in csp + ";"
    assert "crm.zoho.com" not in csp


async def test_metrics_and_docs_can_be_closed(clean_db: object) -> None:
    settings = make_settings(metrics_token="metrics-token-0123", docs_enabled=False)
    async with serving(settings) as client:
        closed = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        opened = await client.get(
            "/metrics", headers={"Authorization": "Bearer metrics-token-0123"}
        )
        docs = [await client.get(path) for path in ("/docs", "/redoc", "/openapi.json")]
    assert closed.status_code == 401 and wrong.status_code == 401
    assert opened.status_code == 200 and "http_requests" in opened.text
    assert [r.status_code for r in docs] == [404, 404, 404]


async def test_an_accounts_server_with_control_characters_gets_the_400_page(
    client: httpx.AsyncClient,
) -> None:
    installed = await install(client)
    state = (await begin(client, installed.zoho_authorize_url))["state"][0]
    for server in ("https://accounts.zoho.com\t", "https://accounts.zoho.eu\r\nX: y"):
        response = await client.get(
            "/oauth/zoho/callback",
            params={"code": "c", "state": state, "accounts-server": server},
        )
        assert response.status_code == 400, response.text
        assert "text/html" in response.headers["content-type"]


def test_tracebacks_are_redacted_like_other_fields() -> None:
    stream = io.StringIO()
    configure_logging(json=True, level="INFO")
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]
    try:
        raise RuntimeError(
            "POST /oauth/v2/token/revoke?token=1000.secret-a failed; "
            'body {"refresh_token": "1000.secret-b"} with Bearer secret-c'
        )
    except RuntimeError:
        get_logger("test").exception("provider.failed")
        logging.getLogger("stdlib").exception("provider.failed")
    lines = [json.loads(line) for line in stream.getvalue().strip().splitlines()]
    assert len(lines) == 2
    for line in lines:
        assert "RuntimeError" in line["exception"]
        assert "[redacted]" in line["exception"]
    assert "secret" not in stream.getvalue()


async def test_sql_errors_do_not_carry_statement_parameters(migrated_database: str) -> None:
    engine = create_engine(TEST_DATABASE_URL)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as failed:
                await connection.execute(
                    text("SELECT 1 / 0 WHERE :value = :value"), {"value": "gcz_secret-api-key"}
                )
    finally:
        await engine.dispose()
    assert "gcz_secret-api-key" not in str(failed.value)
    assert "hidden due to hide_parameters" in str(failed.value)
