"""The worker's side of the inbox: claim due events, refresh what they name, settle them.

Events claimed together for one resource are coalesced into one fetch, which keeps an event
storm inside the rate budget. Resources are processed side by side (up to
`INBOX_CONCURRENCY`, each GoCardless organisation still paced by its own limiter), each within
`EVENT_TIMEOUT_SECONDS`, so one slow or failing resource never holds up the others: it uses
an attempt and waits its turn again, and is parked after the last one. Whatever is not
settled when a pass ends (the process is stopping, the database failed) is released at once.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from app.adapters.gocardless.errors import GoCardlessError, GoCardlessUnauthorized
from app.adapters.gocardless.models import Event
from app.adapters.zoho.errors import ZohoError
from app.log import get_logger
from app.models import (
    ConnectionStatus,
    EventStatus,
    GoCardlessConnection,
    InboxEvent,
    Installation,
)
from app.runtime import Runtime
from app.services.events import claims
from app.services.events.claims import Claimed
from app.services.events.refresh import Refresher
from app.services.providers import gocardless_client

log = get_logger("app.services.events.processing")


@dataclass
class _Group:
    """The events of one installation answered by one fetch of one resource."""

    installation_id: uuid.UUID
    resource_type: str
    resource_id: str | None
    action: str
    events: list[Claimed] = field(default_factory=list)


@dataclass
class _Account:
    """One installation's GoCardless side during a pass."""

    refresher: Refresher | None
    revoked: bool


async def process_due_events(runtime: Runtime, *, limit: int = 500) -> int:
    """One pass over the inbox; returns how many events it claimed."""
    claimed = await claims.claim(runtime, limit)
    unsettled = {event.pk: event for event in claimed}
    try:
        accounts = await _accounts(runtime, {event.installation_id for event in claimed})
        slots = asyncio.Semaphore(runtime.settings.inbox_concurrency)
        async with asyncio.TaskGroup() as tasks:
            for group in _groups(claimed):
                tasks.create_task(
                    _process_in_slot(
                        runtime, slots, accounts[group.installation_id], group, unsettled
                    )
                )
    finally:
        # Stopping, a database error, a cancelled pass: the rest is due again at once, here
        # or in another worker, instead of waiting for this process to die.
        await claims.release(runtime, list(unsettled.values()))
    return len(claimed)


def _groups(events: list[Claimed]) -> list[_Group]:
    groups: dict[tuple[uuid.UUID, str, str | None, str], _Group] = {}
    for event in events:
        # Disconnection and billing-request fulfilment are acted on per event; the rest is
        # "refetch this resource", which one fetch answers for any number of events.
        action = (
            event.action if event.resource_type in ("organisations", "billing_requests") else ""
        )
        key = (event.installation_id, event.resource_type, event.resource_id, action)
        group = groups.setdefault(
            key, _Group(event.installation_id, event.resource_type, event.resource_id, action)
        )
        group.events.append(event)
    return list(groups.values())


async def _payloads(runtime: Runtime, events: list[Claimed]) -> list[Event]:
    """The events as GoCardless sent them: what a refetch cannot tell (a failure's cause,
    the payout a payment went out in) is only in them."""
    async with runtime.sessionmaker() as session:
        payloads = (
            await session.scalars(
                select(InboxEvent.payload).where(InboxEvent.pk.in_([e.pk for e in events]))
            )
        ).all()
    return [Event.model_validate(payload) for payload in payloads]


async def _accounts(
    runtime: Runtime, installation_ids: set[uuid.UUID]
) -> dict[uuid.UUID, _Account]:
    accounts: dict[uuid.UUID, _Account] = {}
    async with runtime.sessionmaker() as session:
        for installation_id in installation_ids:
            installation = await session.get(Installation, installation_id)
            connection = await session.get(GoCardlessConnection, installation_id)
            if installation is None or connection is None:
                accounts[installation_id] = _Account(None, revoked=False)
                continue
            gc = gocardless_client(runtime, connection, priority="background")
            accounts[installation_id] = _Account(
                Refresher(runtime, installation, gc),
                revoked=connection.status != ConnectionStatus.connected,
            )
    return accounts


async def _process_in_slot(
    runtime: Runtime,
    slots: asyncio.Semaphore,
    account: _Account,
    group: _Group,
    unsettled: dict[int, Claimed],
) -> None:
    async with slots:
        if runtime.stopping.is_set():
            return  # released with the rest when the pass ends
        try:
            await _process(runtime, account, group)
        except Exception:
            # The database (or a bug) failed this group: it is released, not settled.
            log.exception(
                "event.group_failed",
                installation_id=str(group.installation_id),
                resource_type=group.resource_type,
            )
            return
        for event in group.events:
            unsettled.pop(event.pk, None)


async def _process(runtime: Runtime, account: _Account, group: _Group) -> None:
    events = group.events
    if account.refresher is None:
        await claims.settle(runtime, events, EventStatus.ignored, "no GoCardless connection")
        return
    if account.revoked and group.resource_type != "organisations":
        await claims.await_reauthorization(runtime, events)
        return
    timeout = runtime.settings.event_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            handled = await account.refresher.handle(
                group.resource_type,
                group.resource_id,
                group.action or events[0].action,
                await _payloads(runtime, events),
            )
    except GoCardlessUnauthorized:
        # Access was revoked before (or without) the disconnect event reaching us.
        await account.refresher.mark_revoked("GoCardless refused our access token")
        account.revoked = True
        await claims.await_reauthorization(runtime, events)
        return
    except (GoCardlessError, ZohoError) as exc:
        await claims.retry_later(runtime, events, f"{type(exc).__name__}: {exc}")
        return
    except TimeoutError:
        await claims.retry_later(runtime, events, f"timed out after {timeout:g} s")
        return
    status = EventStatus.processed if handled else EventStatus.ignored
    await claims.settle(runtime, events, status, None)
    lag = (datetime.now(UTC) - min(e.received_at for e in events)).total_seconds()
    runtime.metrics.events_processed.labels(group.resource_type, status.value).inc(len(events))
    runtime.metrics.event_lag.observe(max(lag, 0.0))
