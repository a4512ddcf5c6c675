"""The demo org's installation, made at start-up through the same service the operator
endpoint uses (audience: all users), or found again in a reused database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.demo.errors import DemoError
from app.errors import InstallationExists, Unauthenticated
from app.models import Audience, InstallationStatus
from app.runtime import Runtime, open_runtime
from app.services.installations import create_installation, installation_for_api_key
from app.services.links import Provider, authorize_link
from app.settings import Settings


@dataclass(frozen=True)
class DemoInstallation:
    installation_id: uuid.UUID
    api_key: str
    zoho_authorize_url: str
    gocardless_authorize_url: str
    reused: bool


async def ensure_installation(
    settings: Settings, zoho_org_id: str, kept_api_key: str | None
) -> DemoInstallation:
    """The installation `kept_api_key` opens when it is still active for the org, else a
    new one."""
    async with open_runtime(settings) as runtime:
        async with runtime.sessionmaker() as session, session.begin():
            kept = None
            if kept_api_key is not None:
                kept = await _active_installation(session, kept_api_key, zoho_org_id)
            if kept is not None and kept_api_key is not None:
                installation_id, api_key = kept, kept_api_key
            else:
                installation_id, api_key = await _create(session, runtime, zoho_org_id)
        zoho_link, gocardless_link = (
            authorize_link(runtime.signer, settings.public_base_url, provider, installation_id)
            for provider in (Provider.zoho, Provider.gocardless)
        )
    return DemoInstallation(
        installation_id=installation_id,
        api_key=api_key,
        zoho_authorize_url=zoho_link,
        gocardless_authorize_url=gocardless_link,
        reused=kept is not None,
    )


async def _active_installation(
    session: AsyncSession, api_key: str, zoho_org_id: str
) -> uuid.UUID | None:
    try:
        installation = await installation_for_api_key(session, api_key)
    except Unauthenticated:
        return None
    if installation.status != InstallationStatus.active or installation.zoho_org_id != zoho_org_id:
        return None
    return installation.id


async def _create(
    session: AsyncSession, runtime: Runtime, zoho_org_id: str
) -> tuple[uuid.UUID, str]:
    try:
        created = await create_installation(
            session, runtime, zoho_org_id=zoho_org_id, audience=Audience.all_users, profile_ids=[]
        )
    except InstallationExists:
        raise DemoError(
            "the reused database holds an installation whose API key was lost; "
            "start the demo without --reuse"
        ) from None
    return created.installation.id, created.api_key
