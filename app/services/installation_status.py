"""What the settings page shows: both connections and the sync, with links to fix what's missing."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ConnectionStatus, EventStatus, InboxEvent, Installation
from app.runtime import Runtime
from app.schemas.installations import (
    CallerOut,
    EventCounts,
    GoCardlessStatus,
    InstallationStatusOut,
    ZohoStatus,
)
from app.services.authorization import inactive_reason
from app.services.identity.links import Provider, authorize_link
from app.services.installations import (
    gocardless_active,
    gocardless_usable,
    load_connections,
    zoho_usable,
)
from app.services.sync import sync_status


async def installation_status(
    session: AsyncSession,
    runtime: Runtime,
    installation: Installation,
    *,
    admin: bool,
    user_id: str | None,
) -> InstallationStatusOut:
    """`admin`: whether the caller may be handed the authorize links (single use, 15 min)."""
    zoho, gocardless = await load_connections(session, installation.id)

    def link(provider: Provider) -> str | None:
        return authorize_link(runtime, provider, installation.id) if admin else None

    active = gocardless_active(gocardless)
    return InstallationStatusOut(
        installation_id=installation.id,
        audience=installation.audience,
        profile_ids=installation.profile_ids,
        auto_collect_on_mandate=installation.auto_collect_on_mandate,
        invoice_status_on_collection=installation.invoice_status_collected,
        invoice_collected_on=installation.invoice_status_collected_on,
        invoice_status_on_failure=installation.invoice_status_failed,
        zoho=ZohoStatus(
            connected=zoho_usable(zoho),
            org_id=zoho.org_id if zoho else None,
            status=zoho.status if zoho else "not_connected",
            authorize_url=link(Provider.zoho),
        ),
        gocardless=GoCardlessStatus(
            connected=gocardless_usable(gocardless),
            environment=(gocardless.environment if gocardless else None)
            or runtime.settings.gocardless_environment.value,
            organisation_id=gocardless.organisation_id if gocardless else None,
            creditor_id=gocardless.creditor_id if gocardless else None,
            verification_status=gocardless.verification_status if gocardless else None,
            active=active,
            status=gocardless.status if gocardless else "not_connected",
            inactive_reason=None
            if active or gocardless is None or gocardless.status != ConnectionStatus.connected
            else inactive_reason(gocardless.verification_status),
            authorize_url=link(Provider.gocardless),
        ),
        sync=await sync_status(session, runtime, installation),
        events=await _event_counts(session, installation.id),
        caller=CallerOut(user_id=user_id, admin=admin),
    )


async def _event_counts(session: AsyncSession, installation_id: uuid.UUID) -> EventCounts:
    rows = (
        await session.execute(
            select(InboxEvent.status, func.count())
            .where(
                InboxEvent.installation_id == installation_id,
                InboxEvent.status.in_([EventStatus.pending.value, EventStatus.failed.value]),
            )
            .group_by(InboxEvent.status)
        )
    ).all()
    counts = {status: count for status, count in rows}
    return EventCounts(
        pending=counts.get(EventStatus.pending.value, 0),
        failed=counts.get(EventStatus.failed.value, 0),
    )
