"""Installations: creation by the operator, API-key authentication, status for the widget."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import hash_api_key, new_api_key
from app.errors import (
    GoCardlessNotAuthorized,
    InstallationExists,
    Unauthenticated,
    ValidationFailed,
)
from app.log import get_logger
from app.models import (
    ApiKey,
    Audience,
    ConnectionStatus,
    GoCardlessConnection,
    Installation,
    InstallationStatus,
    SyncRun,
    ZohoConnection,
)
from app.runtime import Runtime
from app.services.identity.links import Provider, authorize_link

log = get_logger("app.services.installations")

# GoCardless only gates syncing and collecting on this status (API-FACTS §7).
ACTIVE_VERIFICATION_STATUS = "successful"


@dataclass(frozen=True)
class CreatedInstallation:
    installation: Installation
    api_key: str
    zoho_authorize_url: str
    gocardless_authorize_url: str


async def create_installation(
    session: AsyncSession,
    runtime: Runtime,
    *,
    zoho_org_id: str,
    audience: Audience,
    profile_ids: list[str],
) -> CreatedInstallation:
    if audience is Audience.profiles and not profile_ids:
        raise ValidationFailed("audience 'profiles' needs at least one profile id in profile_ids")
    if audience is not Audience.profiles and profile_ids:
        raise ValidationFailed("profile_ids are only used with audience 'profiles'")
    existing = await session.scalar(
        select(Installation.id).where(
            Installation.zoho_org_id == zoho_org_id,
            Installation.status == InstallationStatus.active,
        )
    )
    if existing is not None:
        raise InstallationExists(f"Zoho org {zoho_org_id} already has an active installation")
    installation = Installation(
        zoho_org_id=zoho_org_id,
        audience=audience.value,
        profile_ids=sorted(set(profile_ids)),
        status=InstallationStatus.active,
    )
    api_key = new_api_key()
    session.add(installation)
    try:
        await session.flush()
        session.add(
            ApiKey(
                installation_id=installation.id,
                key_hash=hash_api_key(api_key),
                key_prefix=api_key[:12],
            )
        )
        await session.flush()
    except IntegrityError:
        # Two operators racing for one org: the partial unique index lets exactly one win.
        raise InstallationExists(
            f"Zoho org {zoho_org_id} already has an active installation"
        ) from None
    log.info("installation.created", installation_id=str(installation.id), org_id=zoho_org_id)
    return CreatedInstallation(
        installation=installation,
        api_key=api_key,
        zoho_authorize_url=authorize_link(runtime, Provider.zoho, installation.id),
        gocardless_authorize_url=authorize_link(runtime, Provider.gocardless, installation.id),
    )


async def installation_for_api_key(session: AsyncSession, api_key: str) -> Installation:
    """The installation behind a widget's API key; uninstalled ones are returned too."""
    installation = await installation_with_connections(session, api_key=api_key)
    if installation is None:
        raise Unauthenticated("unknown API key")
    return installation


PRELOADED = "preloaded_for_request"


async def installation_with_connections(
    session: AsyncSession, *, api_key: str | None = None, installation_id: uuid.UUID | None = None
) -> Installation | None:
    """The installation with this API key or id, its Zoho and GoCardless connections and its
    sync run read in the same query into the session, where the request's later
    `session.get` finds them: a widget call's first four statements were a fifth of all."""
    query = select(Installation, ZohoConnection, GoCardlessConnection, SyncRun)
    if api_key is not None:
        query = query.join(ApiKey, ApiKey.installation_id == Installation.id).where(
            ApiKey.key_hash == hash_api_key(api_key)
        )
    else:
        query = query.where(Installation.id == installation_id)
    row = (
        await session.execute(
            query.outerjoin(ZohoConnection, ZohoConnection.installation_id == Installation.id)
            .outerjoin(
                GoCardlessConnection, GoCardlessConnection.installation_id == Installation.id
            )
            .outerjoin(SyncRun, SyncRun.installation_id == Installation.id)
        )
    ).first()
    if row is None:
        return None
    # The session's identity map holds objects weakly: without a reference of ours the
    # connections and the sync run are freed at once, and `session.get` queries again.
    session.info[PRELOADED] = tuple(row)
    return row[0]


async def load_connections(
    session: AsyncSession, installation_id: uuid.UUID
) -> tuple[ZohoConnection | None, GoCardlessConnection | None]:
    zoho = await session.get(ZohoConnection, installation_id)
    gocardless = await session.get(GoCardlessConnection, installation_id)
    return zoho, gocardless


def zoho_usable(connection: ZohoConnection | None) -> bool:
    return connection is not None and connection.status == ConnectionStatus.connected


def gocardless_usable(connection: GoCardlessConnection | None) -> bool:
    return connection is not None and connection.status == ConnectionStatus.connected


def gocardless_active(connection: GoCardlessConnection | None) -> bool:
    return (
        gocardless_usable(connection)
        and connection is not None
        and connection.verification_status == ACTIVE_VERIFICATION_STATUS
    )


async def require_gocardless(
    session: AsyncSession, runtime: Runtime, installation: Installation
) -> GoCardlessConnection:
    """The usable GoCardless connection, or the problem that says how to get one."""
    connection = await session.get(GoCardlessConnection, installation.id)
    if connection is None or not gocardless_usable(connection):
        raise GoCardlessNotAuthorized(
            "authorize GoCardless first"
            if connection is None
            else "GoCardless access was revoked; authorize GoCardless again"
        )
    return connection
