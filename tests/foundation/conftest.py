"""Fixtures for the foundation: the app over ASGI, respx for both providers, ready installations."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
import respx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.crypto import TokenCipher
from app.main import create_app
from app.models import GoCardlessConnection, ZohoConnection
from app.services.identity.sessions import issue_session
from app.settings import Settings
from tests.conftest import GOCARDLESS_API, ZOHO_ACCOUNTS, ZOHO_API

ADMIN_HEADERS = {"Authorization": "Bearer operator-token-0123456789abcdefghij"}
ORG_ID = "60012345678"
ADMIN_USER = "4150868000000225013"
STANDARD_USER = "4150868000000225014"
INACTIVE_USER = "4150868000000225015"
ADMIN_PROFILE_ID = "4150868000000026011"
STANDARD_PROFILE_ID = "4150868000000026014"


def zoho_user(user_id: str, profile: tuple[str, str], status: str = "active") -> dict[str, Any]:
    return {
        "id": user_id,
        "full_name": f"User {user_id[-3:]}",
        "email": f"user{user_id[-3:]}@example.com",
        "status": status,
        "profile": {"name": profile[0], "id": profile[1]},
        "role": {"name": "CEO", "id": "4150868000000026005"},
        "zuid": "7000" + user_id[-4:],
    }


USERS = {
    ADMIN_USER: zoho_user(ADMIN_USER, ("Administrator", ADMIN_PROFILE_ID)),
    STANDARD_USER: zoho_user(STANDARD_USER, ("Standard", STANDARD_PROFILE_ID)),
    INACTIVE_USER: zoho_user(INACTIVE_USER, ("Administrator", ADMIN_PROFILE_ID), "disabled"),
}


def zoho_org_body(org_id: str = ORG_ID) -> dict[str, Any]:
    return {
        "org": [
            {
                "id": org_id,
                "zgid": org_id,
                "company_name": "Acme Ltd",
                "primary_email": "owner@acme.example",
                "currency": "Pound Sterling - GBP",
                "iso_code": "GBP",
                "currency_symbol": "£",
                "mc_status": True,
                "time_zone": "Europe/London",
                "country_code": "GB",
            }
        ]
    }


@pytest.fixture
def zoho_mock() -> Iterator[respx.MockRouter]:
    """Zoho's users API with three users; unknown ids answer like Zoho (INVALID_DATA)."""

    def user_route(request: httpx.Request, user_id: str) -> httpx.Response:
        if user_id in USERS:
            return httpx.Response(200, json={"users": [USERS[user_id]]})
        return httpx.Response(
            400,
            json={
                "code": "INVALID_DATA",
                "details": {"resource_path_index": 0},
                "message": "the related id given seems to be invalid",
                "status": "error",
            },
        )

    router = respx.mock(assert_all_called=False, assert_all_mocked=True)
    router.get(url__regex=rf"{ZOHO_API}/crm/v\d+/users/(?P<user_id>\d+)", name="user").mock(
        side_effect=user_route
    )
    add_signin_routes(router)
    router.route(host="testserver").pass_through()
    # Active for the whole test: respx forgets its calls when the context closes.
    with router:
        yield router


# Sign-in: the code `signin-<user id>[-<org id>]` makes a token of that user in that org.
SIGNIN_TOKEN_PREFIX = "1000.user-token-"


def add_signin_routes(router: respx.MockRouter) -> None:
    """Zoho's side of a widget sign-in: the code exchange, then `users?type=CurrentUser` and
    `/org` answered for whichever user and org the access token belongs to."""

    def token(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        code = form.get("code", "")
        if not code.startswith("signin-"):
            return httpx.Response(200, json={"error": "invalid_code"})
        return httpx.Response(
            200,
            json={
                "access_token": SIGNIN_TOKEN_PREFIX + code.removeprefix("signin-"),
                "api_domain": ZOHO_API,
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )

    def whose(request: httpx.Request) -> tuple[str, str]:
        token = request.headers["authorization"].removeprefix("Zoho-oauthtoken ")
        user_id, _, org_id = token.removeprefix(SIGNIN_TOKEN_PREFIX).partition("-")
        return user_id, org_id or ORG_ID

    def current_user(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"users": [USERS[whose(request)[0]]]})

    def org(request: httpx.Request) -> httpx.Response:
        signed_in = SIGNIN_TOKEN_PREFIX in request.headers.get("authorization", "")
        return httpx.Response(200, json=zoho_org_body(whose(request)[1] if signed_in else ORG_ID))

    router.post(f"{ZOHO_ACCOUNTS}/oauth/v2/token", name="signin_token").mock(side_effect=token)
    router.get(url__regex=rf"{ZOHO_API}/crm/v\d+/users\?type=CurrentUser$").mock(
        side_effect=current_user
    )
    router.get(url__regex=rf"{ZOHO_API}/crm/v\d+/org$", name="org").mock(side_effect=org)


SESSION_SCRIPT = re.compile(
    r'<script type="application/json" id="gocardless-zoho-session">(.*?)</script>', re.S
)


async def sign_in_response(
    client: httpx.AsyncClient, user_id: str, *, org_id: str = ORG_ID, code_org: str | None = None
) -> httpx.Response:
    """A widget sign-in through our endpoints; Zoho's side is `add_signin_routes`."""
    start = await client.get(
        "/oauth/zoho/signin", params={"org": org_id, "origin": "http://testserver"}
    )
    assert start.status_code == 302, start.text
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    code = f"signin-{user_id}" + (f"-{code_org}" if code_org else "")
    return await client.get(
        "/oauth/zoho/callback",
        params={"code": code, "state": state, "accounts-server": ZOHO_ACCOUNTS},
    )


def session_of(page: httpx.Response) -> dict[str, Any]:
    match = SESSION_SCRIPT.search(page.text)
    assert match, page.text
    session: dict[str, Any] = json.loads(match.group(1))
    return session


async def sign_in(
    client: httpx.AsyncClient, user_id: str = ADMIN_USER, *, org_id: str = ORG_ID
) -> dict[str, str]:
    """Headers of a signed-in widget user."""
    page = await sign_in_response(client, user_id, org_id=org_id)
    assert page.status_code == 200, page.text
    return {"Authorization": f"Bearer {session_of(page)['token']}"}


def session_due_for_recheck(
    app: FastAPI, installed: Installed, user_id: str, *, admin: bool = True
) -> dict[str, str]:
    """Headers of a session signed in ten minutes ago, so its next use asks the CRM (with
    the installation's token) whether the user is still in the audience."""
    runtime = app.state.runtime
    real_clock = runtime.clock
    earlier = real_clock() - timedelta(minutes=10)
    runtime.clock = lambda: earlier
    try:
        issued = issue_session(runtime, installed.installation_id, user_id, admin=admin)
    finally:
        runtime.clock = real_clock
    return {"Authorization": f"Bearer {issued.token}"}


def crm_now_says(router: respx.MockRouter, user: dict[str, Any]) -> None:
    """From now on the CRM's users API describes this user so (e.g. moved to another
    profile); other users are answered as before."""
    previous = router.routes["user"].side_effect

    def answer(request: httpx.Request, user_id: str) -> httpx.Response:
        if user_id == user["id"]:
            return httpx.Response(200, json={"users": [user]})
        return previous(request, user_id)  # type: ignore[no-any-return,misc,operator]

    router.routes["user"].side_effect = answer


MockRouterFactory = Callable[..., respx.MockRouter]


@pytest.fixture
def mock_router() -> Iterator[MockRouterFactory]:
    """Started respx routers that stay active (and keep their calls) until the test ends."""
    routers: list[respx.MockRouter] = []

    def make(**options: Any) -> respx.MockRouter:
        router = respx.mock(**{"assert_all_called": False, **options})
        router.start()
        router.route(host="testserver").pass_through()
        routers.append(router)
        return router

    yield make
    for router in reversed(routers):
        router.stop()


@pytest.fixture
async def app(settings: Settings, clean_db: AsyncEngine) -> AsyncIterator[FastAPI]:
    app = create_app(settings, engine=clean_db)
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # Like a real client: an unhandled error is a 500 answer, not an exception in the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@dataclass
class Installed:
    installation_id: uuid.UUID
    api_key: str
    zoho_authorize_url: str
    gocardless_authorize_url: str

    def headers(self) -> dict[str, str]:
        """The API key's headers: the installation itself, with admin rights."""
        return {"Authorization": f"Bearer {self.api_key}"}


async def install(
    client: httpx.AsyncClient,
    *,
    org_id: str = ORG_ID,
    audience: str = "admins",
    profile_ids: list[str] | None = None,
) -> Installed:
    response = await client.post(
        "/api/v1/installations",
        headers=ADMIN_HEADERS,
        json={"zoho_org_id": org_id, "audience": audience, "profile_ids": profile_ids or []},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Installed(
        uuid.UUID(body["installation_id"]),
        body["api_key"],
        body["zoho_authorize_url"],
        body["gocardless_authorize_url"],
    )


async def connect_zoho(
    app: FastAPI,
    installed: Installed,
    *,
    access_token: str = "zoho-access-1",
    refresh_token: str = "zoho-refresh-1",
    expires_in: timedelta = timedelta(hours=1),
    org_id: str = ORG_ID,
) -> None:
    """Store a Zoho connection as a finished OAuth flow would (the flow has its own tests)."""
    runtime = app.state.runtime
    cipher: TokenCipher = runtime.cipher
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            ZohoConnection(
                installation_id=installed.installation_id,
                org_id=org_id,
                accounts_server=ZOHO_ACCOUNTS,
                api_domain=ZOHO_API,
                refresh_token_enc=cipher.encrypt(refresh_token),
                access_token_enc=cipher.encrypt(access_token),
                access_token_expires_at=now + expires_in,
                status="connected",
                authorized_at=now,
            )
        )


async def connect_gocardless(
    app: FastAPI,
    installed: Installed,
    *,
    access_token: str = "gc-access-1",
    organisation_id: str = "OR000001",
    verification_status: str = "successful",
) -> None:
    runtime = app.state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            GoCardlessConnection(
                installation_id=installed.installation_id,
                organisation_id=organisation_id,
                environment="sandbox",
                access_token_enc=runtime.cipher.encrypt(access_token),
                creditor_id="CR000001",
                creditor_name="Acme Ltd",
                verification_status=verification_status,
                status="connected",
                authorized_at=datetime.now(UTC),
            )
        )


__all__ = ["GOCARDLESS_API"]
