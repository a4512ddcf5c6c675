"""Dependencies: the runtime, a request-scoped session, operator and widget authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import constant_time_equal
from app.db import session_scope
from app.errors import Unauthenticated, ValidationFailed, ZohoNotAuthorized
from app.models import Installation, InstallationStatus, ZohoConnection
from app.runtime import Runtime
from app.services.audience import ensure_in_audience
from app.services.installations import installation_for_api_key, zoho_usable
from app.services.links import Provider, authorize_link


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with session_scope(runtime.sessionmaker) as session:
        yield session


# scope="function": the session commits when the route returns and *before* the answer is
# sent, so a 2xx is only ever sent for work that is durable (GoCardless never delivers an
# acknowledged webhook again); a failed commit becomes a 500 problem instead. Every route
# takes its session from here, so none can answer before it commits.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def _bearer(authorization: str | None) -> str:
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    return credentials.strip()


def require_operator(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    if not constant_time_equal(
        _bearer(authorization), runtime.settings.admin_token.get_secret_value()
    ):
        raise Unauthenticated("invalid operator token")


async def installation_of_key(
    session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> Installation:
    """The caller's installation, uninstalled included (DELETE is idempotent on it)."""
    return await installation_for_api_key(session, _bearer(authorization))


@dataclass(frozen=True)
class WidgetCaller:
    installation: Installation
    user_id: str
    zoho: ZohoConnection | None


async def _widget_caller(
    runtime: Runtime,
    session: AsyncSession,
    installation: Installation,
    user_id: str | None,
    *,
    zoho_required: bool,
    allow_uninstalled: bool = False,
) -> WidgetCaller:
    if installation.status != InstallationStatus.active:
        if allow_uninstalled:
            return WidgetCaller(installation, user_id or "", None)
        raise Unauthenticated("this API key belongs to an uninstalled extension")
    if not user_id or not user_id.strip() or len(user_id) > 32 or not user_id.isdigit():
        raise ValidationFailed("send the CRM user id in the X-Zoho-User-Id header")
    zoho = await session.get(ZohoConnection, installation.id)
    if zoho is None or not zoho_usable(zoho):
        if zoho_required:
            raise ZohoNotAuthorized(
                "authorize Zoho CRM first",
                authorize_url=authorize_link(runtime, Provider.zoho, installation.id),
            )
        # Until Zoho is authorized nobody can be checked; the key alone may read the status.
        return WidgetCaller(installation, user_id, None)
    await ensure_in_audience(runtime, installation, zoho, user_id)
    return WidgetCaller(installation, user_id, zoho)


def _caller_dependency(
    *, zoho_required: bool, allow_uninstalled: bool = False
) -> Callable[..., Awaitable[WidgetCaller]]:
    async def dependency(
        runtime: RuntimeDep,
        session: SessionDep,
        installation: Annotated[Installation, Depends(installation_of_key)],
        x_zoho_user_id: Annotated[str | None, Header()] = None,
    ) -> WidgetCaller:
        return await _widget_caller(
            runtime,
            session,
            installation,
            x_zoho_user_id,
            zoho_required=zoho_required,
            allow_uninstalled=allow_uninstalled,
        )

    return dependency


WidgetCallerDep = Annotated[WidgetCaller, Depends(_caller_dependency(zoho_required=True))]
# The status and uninstall endpoints must work before Zoho is authorized; a repeated
# uninstall finds its tombstone instead of a 401.
EarlyWidgetCallerDep = Annotated[WidgetCaller, Depends(_caller_dependency(zoho_required=False))]
UninstallingCallerDep = Annotated[
    WidgetCaller, Depends(_caller_dependency(zoho_required=False, allow_uninstalled=True))
]
