"""Switching GoCardless accounts on purpose: an admin disconnects the pinned account.

The token is revoked at GoCardless and everything we hold from that organisation goes: the
mirror, the webhook inbox and its cursor, Sync Now's run, the invoices' payment slots and
mandate requests. After that, GoCardless can be authorized anew with any organisation. Records
already written to the CRM stay there: they are the merchant's history.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import GoCardlessNotAuthorized
from app.log import get_logger
from app.models import (
    ApiKey,
    Base,
    GoCardlessConnection,
    Installation,
    OAuthState,
    SetupEmail,
    ZohoConnection,
)
from app.runtime import Runtime
from app.services.uninstall import revoke_gocardless

log = get_logger("app.services.gocardless_disconnect")

# Installation-keyed tables that are not the GoCardless organisation's data. Any other (and
# any later table keyed by installation) is purged: new tables are the org's data by default.
_KEPT_TABLES = {
    t.__tablename__ for t in (Installation, ApiKey, ZohoConnection, OAuthState, SetupEmail)
}


async def disconnect_gocardless(
    session: AsyncSession, runtime: Runtime, installation: Installation
) -> None:
    await session.scalar(
        select(Installation.id).where(Installation.id == installation.id).with_for_update()
    )
    connection = await session.get(GoCardlessConnection, installation.id)
    if connection is None:
        raise GoCardlessNotAuthorized("no GoCardless account is connected")
    await revoke_gocardless(runtime, connection)
    organisation = connection.organisation_id
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in _KEPT_TABLES and "installation_id" in table.c:
            await session.execute(delete(table).where(table.c.installation_id == installation.id))
    await session.flush()
    session.expunge(connection)
    runtime.webhook_routes.discard_where(lambda key: key == organisation)
    log.info(
        "gocardless.disconnected",
        installation_id=str(installation.id),
        organisation_id=organisation,
    )
