"""Dependencies: the runtime, a request-scoped session, operator and widget authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import constant_time_equal
from app.db import session_scope
from app.errors import Unauthenticated, ZohoNotAuthorized
from app.models import Installation, ZohoConnection
from app.runtime import Runtime
from app.services.identity.callers import Caller, CallerKind, authenticate, require_admin
from app.services.installations import zoho_usable


# Dependencies are coroutines even when they never await: FastAPI runs a plain function in
# its thread pool, a thread hop per request for a field read.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with session_scope(runtime.sessionmaker) as session:
        yield session


# scope="function": the session commits when the route returns and *before* the answer is
# sent, so a 2xx is only ever sent for work that is durable (GoCardless never delivers an
# acknowledged webhook again); a failed commit becomes a 500 problem instead. Every route
# that writes through a session takes it from here, so none can answer before it commits
# (the webhook receiver writes one autocommit statement instead: services/webhooks.py).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def bearer_token(authorization: str | None) -> str:
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    return credentials.strip()


async def require_operator(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    if not constant_time_equal(
        bearer_token(authorization), runtime.settings.admin_token.get_secret_value()
    ):
        raise Unauthenticated("invalid operator token")


@dataclass(frozen=True)
class WidgetCaller:
    """A proven caller of the widget API, with the installation's Zoho connection if usable."""

    caller: Caller
    zoho: ZohoConnection | None

    @property
    def installation(self) -> Installation:
        return self.caller.installation

    @property
    def user_id(self) -> str | None:
        """The signed-in CRM user for audit fields; None when the API key calls."""
        return self.caller.user_id

    @property
    def admin(self) -> bool:
        return self.caller.admin


def _caller_dependency(
    *, admin: bool, zoho_required: bool, allow_uninstalled: bool = False
) -> Callable[..., Awaitable[WidgetCaller]]:
    async def dependency(
        request: Request,
        runtime: RuntimeDep,
        session: SessionDep,
        authorization: Annotated[str | None, Header()] = None,
    ) -> WidgetCaller:
        caller = await authenticate(
            session, runtime, bearer_token(authorization), allow_uninstalled=allow_uninstalled
        )
        # The error handler hands authorize links to admins only.
        request.state.caller = caller
        if admin:
            require_admin(caller)
        if caller.kind is CallerKind.api_key and allow_uninstalled:
            return WidgetCaller(caller, None)
        # Read with the installation (installation_with_connections): no query.
        zoho = await session.get(ZohoConnection, caller.installation_id)
        if not zoho_usable(zoho):
            if zoho_required:
                raise ZohoNotAuthorized("authorize Zoho CRM first")
            return WidgetCaller(caller, None)
        return WidgetCaller(caller, zoho)

    return dependency


# Invoice actions and reading the sync: any member of the audience, Zoho authorized.
WidgetCallerDep = Annotated[
    WidgetCaller, Depends(_caller_dependency(admin=False, zoho_required=True))
]
# The status must be readable before Zoho is authorized (it says how to authorize).
EarlyWidgetCallerDep = Annotated[
    WidgetCaller, Depends(_caller_dependency(admin=False, zoho_required=False))
]
# Managing the installation: the Administrator profile or the API key.
AdminCallerDep = Annotated[
    WidgetCaller, Depends(_caller_dependency(admin=True, zoho_required=True))
]
EarlyAdminCallerDep = Annotated[
    WidgetCaller, Depends(_caller_dependency(admin=True, zoho_required=False))
]
# A repeated uninstall with the API key finds its tombstone instead of a 401.
UninstallingCallerDep = Annotated[
    WidgetCaller,
    Depends(_caller_dependency(admin=True, zoho_required=False, allow_uninstalled=True)),
]
