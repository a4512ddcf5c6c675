"""Uninstall: revoke both grants at the providers, delete everything stored for the org.

The installation row stays as a tombstone (status `uninstalled`) so a second call is a harmless
204 and the API key answers 401 everywhere else at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.errors import GoCardlessError
from app.adapters.zoho.errors import ZohoError
from app.log import get_logger
from app.models import (
    ApiKey,
    Base,
    GoCardlessConnection,
    Installation,
    InstallationStatus,
    ZohoConnection,
)
from app.runtime import Runtime
from app.services.identity.audience import forget_audience

log = get_logger("app.services.uninstall")

# Tables keyed by installation that outlive the data: the tombstone and its (revoked) keys.
_KEPT_TABLES = {Installation.__tablename__, ApiKey.__tablename__}


async def uninstall(session: AsyncSession, runtime: Runtime, installation: Installation) -> None:
    locked = await session.scalar(
        select(Installation).where(Installation.id == installation.id).with_for_update()
    )
    if locked is None or locked.status == InstallationStatus.uninstalled:
        return
    zoho = await session.get(ZohoConnection, installation.id)
    gocardless = await session.get(GoCardlessConnection, installation.id)
    if zoho is not None:
        await _revoke_zoho(runtime, zoho)
    if gocardless is not None:
        await revoke_gocardless(runtime, gocardless)
    now = datetime.now(UTC)
    # Every table that carries installation_id is the org's data (later issues add more).
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in _KEPT_TABLES and "installation_id" in table.c:
            await session.execute(delete(table).where(table.c.installation_id == installation.id))
    await session.execute(
        update(ApiKey)
        .where(ApiKey.installation_id == installation.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    locked.status = InstallationStatus.uninstalled
    locked.uninstalled_at = now
    await session.flush()
    forget_audience(runtime, installation.id)
    if gocardless is not None:
        # Stop routing its webhooks here at once (other processes' caches expire in seconds).
        organisation = gocardless.organisation_id
        runtime.webhook_routes.discard_where(lambda key: key == organisation)
    log.info("installation.uninstalled", installation_id=str(installation.id))


async def _revoke_zoho(runtime: Runtime, connection: ZohoConnection) -> None:
    try:
        await runtime.zoho_accounts.revoke(
            connection.accounts_server, runtime.cipher.decrypt(connection.refresh_token_enc)
        )
    except (ZohoError, ValueError) as exc:
        log.warning(
            "zoho.token.revoke_failed",
            installation_id=str(connection.installation_id),
            error=str(exc),
        )
    else:
        log.info("zoho.token.revoked", installation_id=str(connection.installation_id))


async def revoke_gocardless(runtime: Runtime, connection: GoCardlessConnection) -> None:
    try:
        await runtime.gocardless_connect.revoke(runtime.cipher.decrypt(connection.access_token_enc))
    except (GoCardlessError, ValueError) as exc:
        log.warning(
            "gocardless.token.revoke_failed",
            installation_id=str(connection.installation_id),
            error=str(exc),
        )
    else:
        log.info("gocardless.token.revoked", installation_id=str(connection.installation_id))
