"""HTTP as RFC 9110 and RFC 9457 say: 405 with Allow, HEAD, 401 challenges, readable errors."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.main import create_app
from tests.conftest import make_settings
from tests.foundation.conftest import ADMIN_HEADERS, install

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith("/" + code.replace("_", "-"))
    return dict(body)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/installation", "DELETE, GET, HEAD, PATCH"),
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/api/v1/installations", "POST"),
        ("GET", "/webhooks/gocardless", "POST"),
        ("PATCH", "/api/v1/installation/sync", "GET, HEAD, POST"),
    ],
)
async def test_405_names_every_allowed_method(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allow


async def test_head_answers_wherever_get_does(client: httpx.AsyncClient) -> None:
    installed = await install(client)
    for path, headers in (
        ("/healthz", {}),
        ("/readyz", {}),
        ("/metrics", {}),
        ("/openapi.json", {}),
        ("/api/v1/installation", installed.headers()),
    ):
        get = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert get.status_code == 200, (path, get.text)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
    refused = await client.head("/api/v1/installation")
    assert refused.status_code == 401 and refused.content == b""


async def test_a_body_that_is_not_utf8_is_a_bad_request(client: httpx.AsyncClient) -> None:
    for body in (b"\xff\xfe\x00{", b'{"zoho_org_id": "\xc3\x28"}'):
        response = await client.post(
            "/api/v1/installations",
            content=body,
            headers={**ADMIN_HEADERS, "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "bad_request")


async def test_401_challenges_for_a_bearer_token(client: httpx.AsyncClient) -> None:
    for path, method in (("/api/v1/installation", "GET"), ("/api/v1/installations", "POST")):
        response = await client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/installations"),
        ("PATCH", "/api/v1/installation"),
        ("POST", "/api/v1/invoices/4150868000000700001/payments"),
    ],
)
async def test_authentication_comes_before_the_body(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    for body in (b"{not json", b"\xff\xfe", b'{"unexpected": 1}'):
        response = await client.request(
            method,
            path,
            content=body,
            headers={"Authorization": "Bearer wrong", "Content-Type": "application/json"},
        )
        assert_problem(response, 401, "unauthenticated")


async def test_a_malformed_body_is_400_once_authenticated(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/installations",
        content=b"{not json",
        headers={**ADMIN_HEADERS, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "bad_request")


async def test_a_malformed_body_is_400_where_every_field_is_optional(
    client: httpx.AsyncClient,
) -> None:
    # The settings body may be `{}`: a body that is not JSON must not pass for one.
    installed = await install(client)
    for body in (b"\x00", b"{not json", b"\xff\xfe"):
        response = await client.patch(
            "/api/v1/installation",
            content=body,
            headers={**installed.headers(), "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "bad_request")


async def test_not_ready_is_a_problem() -> None:
    settings = make_settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
            head = await client.head("/readyz")
    body = assert_problem(response, 503, "not_ready")
    assert body["database"] == "unreachable"
    assert head.status_code == 503
