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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select

from app.adapters.gocardless.errors import GoCardlessError, GoCardlessUnauthorized
from app.adapters.gocardless.models import Event
from app.adapters.zoho.errors import ZohoError
from app.deadlines import budget_waits_excluded
from app.log import get_logger
from app.models import (
    ConnectionStatus,
    EventStatus,
    GoCardlessConnection,
    InboxEvent,
    Installation,
)
from app.runtime import Runtime
from app.services.events import bulk, claims
from app.services.events.claims import Claimed
from app.services.events.refresh import Refresher
from app.services.invoice_follow_up import CrmNotReachable
from app.services.providers import gocardless_client

log = get_logger("app.services.events.processing")

# How often an event whose invoice follow-up waits for the CRM looks again.
CRM_POLL = timedelta(minutes=1)


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


async def process_due_events(
    runtime: Runtime,
    *,
    limit: int = 500,
    installation_id: uuid.UUID | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """One pass over the inbox (or one installation's part of it); returns how many events
    it claimed. Each installation's events are a lane of their own within the pass."""
    claimed = await claims.claim(runtime, limit, installation_id)
    unsettled = {event.pk: event for event in claimed}
    try:
        if installation_id is not None:
            await _gather_arriving(runtime, installation_id, claimed, unsettled, limit, sleep)
        lanes: dict[uuid.UUID, list[_Group]] = {}
        for group in _groups(claimed):
            lanes.setdefault(group.installation_id, []).append(group)
        accounts = await _accounts(runtime, set(lanes))
        async with asyncio.TaskGroup() as tasks:
            for lane, groups in lanes.items():
                tasks.create_task(_process_lane(runtime, accounts[lane], groups, unsettled))
    finally:
        # Stopping, a database error, a cancelled pass: the rest is due again at once, here
        # or in another worker, instead of waiting for this process to die.
        await claims.release(runtime, list(unsettled.values()))
    return len(claimed)


# While a merchant's storm is still arriving, a lane's pass claims what arrives for up to
# GATHER_CHECKS checks this far apart (0.4 s), so that it pages a full page of events.
GATHER_CHECK_SECONDS = 0.05
GATHER_CHECKS = 8


async def _gather_arriving(
    runtime: Runtime,
    installation_id: uuid.UUID,
    claimed: list[Claimed],
    unsettled: dict[int, Claimed],
    limit: int,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """Claim, into `claimed` and `unsettled`, the events of a storm that arrive in the next
    moments (each claim is in `unsettled` at once, so a database error gives it back).

    One page of events refreshes up to 500 resources for one call, but a pass that ran on
    what had arrived so far refreshed about 200 at a payout day's pace (as many as arrive
    while a pass runs): 5 calls per 1,000 events, the most a storm may cost. A pass with too
    few events to page (a lone event), or whose events stopped coming, goes at once or
    after one check. While the receiver is busy the worker rests between steps anyway, and
    a wait inside a step would lengthen the rest that follows it.
    """
    for _ in range(GATHER_CHECKS):
        pageable = sum(event.resource_type in bulk.INCLUDES for event in claimed)
        if (
            pageable < bulk.MIN_RESOURCES
            or len(claimed) >= limit
            or runtime.receiver_busy
            or runtime.stopping.is_set()
        ):
            return
        await sleep(GATHER_CHECK_SECONDS)
        more = await claims.claim(runtime, limit - len(claimed), installation_id)
        claimed.extend(more)
        unsettled.update((event.pk, event) for event in more)
        if not more:
            return


async def _process_lane(
    runtime: Runtime, account: _Account, groups: list[_Group], unsettled: dict[int, Claimed]
) -> None:
    """One installation's events: pages first for a backlog, then one fetch per resource,
    with slots of its own, so a lane waiting for its merchant's budget holds up no other."""
    if account.refresher is not None and not account.revoked:
        groups = await _refresh_in_pages(runtime, account.refresher, groups, unsettled)
    slots = asyncio.Semaphore(runtime.settings.inbox_concurrency)
    async with asyncio.TaskGroup() as tasks:
        for group in groups:
            tasks.create_task(_process_in_slot(runtime, slots, account, group, unsettled))


async def _refresh_in_pages(
    runtime: Runtime, refresher: Refresher, groups: list[_Group], unsettled: dict[int, Claimed]
) -> list[_Group]:
    """Refresh the kinds with many resources in pages; returns the groups left to fetch."""
    by_kind: dict[str, list[_Group]] = {}
    for group in groups:
        if group.resource_id is not None:
            by_kind.setdefault(group.resource_type, []).append(group)
    left = [
        g
        for g in groups
        if not bulk.worth_paging(g.resource_type, len(by_kind.get(g.resource_type, [])))
    ]
    for kind, kind_groups in by_kind.items():
        if not bulk.worth_paging(kind, len(kind_groups)) or runtime.stopping.is_set():
            continue
        events = [event for group in kind_groups for event in group.events]
        try:
            sent = await _payloads(runtime, events) if kind == "payments" else []
            refreshed = await bulk.refresh_in_pages(runtime, refresher, kind, events, sent)
        except (GoCardlessError, ZohoError, TimeoutError) as exc:
            # The single fetches decide what this means for each event (retry, revoked…).
            log.warning(
                "event.bulk_refresh_failed",
                installation_id=str(refresher.installation.id),
                resource_type=kind,
                error=f"{type(exc).__name__}: {exc}",
            )
            left.extend(kind_groups)
            continue
        covered = [g.events for g in kind_groups if g.resource_id in refreshed.covered]
        left.extend(g for g in kind_groups if g.resource_id not in refreshed.covered)
        # One statement for the page's resources: a transaction each was three round trips
        # a resource, a fifth of the worker's time in a storm.
        await _settle_all(runtime, covered, handled=True)
        for events in covered:
            for event in events:
                unsettled.pop(event.pk, None)
        listed = await claims.settle_listed(
            runtime, refresher.installation.id, refreshed.listed_event_ids
        )
        for resource_type in set(listed):
            runtime.metrics.events_processed.labels(resource_type, "processed").inc(
                listed.count(resource_type)
            )
        runtime.metrics.gocardless_bulk_pages.inc(refreshed.calls)
        log.info(
            "event.bulk_refreshed",
            installation_id=str(refresher.installation.id),
            resource_type=kind,
            calls=refreshed.calls,
            resources=len(refreshed.covered),
            claimed=len(events),
            settled_unclaimed=len(listed),
        )
    return left


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
    events_sent: list[Event] = []
    for payload in payloads:
        try:
            events_sent.append(Event.model_validate(payload))
        except ValidationError:
            # Not an event as GoCardless sends them (a row written by hand or by an older
            # version): the refetch still brings the resource up to date, only what the event
            # alone says is lost. Failing here would stop the merchant's whole lane on it.
            log.warning("events.payload_unreadable")
    return events_sent


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
        async with asyncio.timeout(timeout) as deadline:
            with budget_waits_excluded(deadline):
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
    except CrmNotReachable as exc:
        # The mirror is stored; only the invoice's Note, Task or Status waits for the CRM.
        await claims.await_reauthorization(
            runtime, events, reason=f"waiting for Zoho CRM: {exc}", poll=CRM_POLL
        )
        return
    except (GoCardlessError, ZohoError) as exc:
        await claims.retry_later(runtime, events, f"{type(exc).__name__}: {exc}")
        return
    except TimeoutError:
        await claims.retry_later(runtime, events, f"timed out after {timeout:g} s")
        return
    await _settle(runtime, events, handled=handled)


async def _settle(runtime: Runtime, events: list[Claimed], *, handled: bool) -> None:
    await _settle_all(runtime, [events], handled=handled)


async def _settle_all(runtime: Runtime, groups: list[list[Claimed]], *, handled: bool) -> None:
    """Settle each group's events (one resource's), in one statement for all of them."""
    if not groups:
        return
    status = EventStatus.processed if handled else EventStatus.ignored
    await claims.settle(runtime, [event for events in groups for event in events], status, None)
    now = datetime.now(UTC)
    for events in groups:
        lag = (now - min(e.received_at for e in events)).total_seconds()
        runtime.metrics.events_processed.labels(events[0].resource_type, status.value).inc(
            len(events)
        )
        runtime.metrics.event_lag.observe(max(lag, 0.0))
