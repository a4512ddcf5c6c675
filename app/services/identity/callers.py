"""Who is calling the widget API: a signed-in CRM user (session) or the installation itself
(API key, server to server, with admin rights). The `X-Zoho-User-Id` header of v1 means nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import API_KEY_PREFIX
from app.errors import AdminRequired, Unauthenticated, UserNotInAudience
from app.models import Installation, InstallationStatus, ZohoConnection
from app.runtime import Runtime
from app.services.identity.audience import (
    Membership,
    fresh_membership,
    is_fresh,
    recheck_membership,
)
from app.services.identity.sessions import InvalidSession, SessionClaims, read_session
from app.services.installations import (
    installation_for_api_key,
    installation_with_connections,
    zoho_usable,
)


class CallerKind(StrEnum):
    session = "session"
    api_key = "api_key"


@dataclass(frozen=True)
class Caller:
    installation: Installation
    kind: CallerKind
    # The signed-in CRM user; None for the API key (the installation itself).
    user_id: str | None
    admin: bool
    # Read while the request's session is open: error handlers run after it has closed.
    installation_id: uuid.UUID = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "installation_id", self.installation.id)


NOT_IN_AUDIENCE = (
    "Your Zoho CRM user is not allowed to use GoCardless for Zoho CRM; "
    "ask your CRM administrator to add your profile."
)


async def authenticate(
    session: AsyncSession, runtime: Runtime, bearer: str, *, allow_uninstalled: bool = False
) -> Caller:
    """The caller behind a bearer credential; 401 for anything not proven, 403 outside the
    audience. `allow_uninstalled` lets the API key find its tombstone (a repeated DELETE)."""
    if bearer.startswith(API_KEY_PREFIX):
        installation = await installation_for_api_key(session, bearer)
        if installation.status != InstallationStatus.active and not allow_uninstalled:
            raise Unauthenticated("this API key belongs to an uninstalled extension")
        return Caller(installation, CallerKind.api_key, None, admin=True)
    try:
        claims = read_session(runtime, bearer)
    except InvalidSession as exc:
        raise Unauthenticated(exc.reason) from None
    signed_in_to = await installation_with_connections(
        session, installation_id=claims.installation_id
    )
    if signed_in_to is None or signed_in_to.status != InstallationStatus.active:
        raise Unauthenticated("the extension was removed from this org; sign in again")
    membership = await _membership(session, runtime, signed_in_to, claims)
    if not membership.in_audience:
        raise UserNotInAudience(NOT_IN_AUDIENCE)
    return Caller(signed_in_to, CallerKind.session, claims.user_id, admin=membership.admin)


async def _membership(
    session: AsyncSession, runtime: Runtime, installation: Installation, claims: SessionClaims
) -> Membership:
    known = fresh_membership(runtime, installation.id, claims.user_id)
    if known is not None:
        return known
    if is_fresh(runtime, claims.issued_at):
        # Just proven by the sign-in (perhaps in another process).
        return Membership(claims.in_audience, claims.admin, claims.issued_at)
    connection = await session.get(ZohoConnection, installation.id)
    if connection is None or not zoho_usable(connection):
        # Nothing to re-check with (Zoho not authorized yet): a fresh sign-in proves it again.
        raise Unauthenticated("your sign-in must be renewed; sign in again")
    return await recheck_membership(runtime, installation, connection, claims.user_id)


def require_admin(caller: Caller) -> None:
    if not caller.admin:
        raise AdminRequired(
            "Only a Zoho CRM user with the Administrator profile may manage the extension."
        )
