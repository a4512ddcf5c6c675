"""Bulk refresh: a backlog's resources brought up to date in pages of events, not one by one.

`GET /events?resource_type=payments&include=payment` answers up to 500 events together with
the current state of every payment they name (under `linked`). When a pass holds many events
of one kind for one installation, the pages spanning their `created_at` refresh all of those
resources for one call per 500 events, against one call per resource before. What the pages
do not cover (an event not listed yet, a resource the answer left out, a payment's mandate
new to us) is still fetched one by one.

A resource's state is stored as of the moment its page was asked for, so the mirror's rule
"the newest read wins" holds between pages and single fetches alike. Every event the pages
list whose resource they carried was created before that read, so it is settled too, even
one this pass did not claim.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.adapters.gocardless.client import MAX_PAGE_SIZE
from app.adapters.gocardless.models import Event
from app.deadlines import budget_waits_excluded
from app.runtime import Runtime
from app.services.events.claims import Claimed
from app.services.events.refresh import Refresher
from app.services.inbox import resource_id

# The kinds refreshed in pages, with the `include` that carries their current state.
INCLUDES = {"payments": "payment", "mandates": "mandate"}
# Below this many resources, single fetches cost about as much and answer sooner.
MIN_RESOURCES = 10


@dataclass
class Refreshed:
    # Resources whose current state was stored.
    covered: set[str] = field(default_factory=set)
    # Listed events that name one of them.
    listed_event_ids: list[str] = field(default_factory=list)
    calls: int = 0


def worth_paging(resource_type: str, resources: int) -> bool:
    return resource_type in INCLUDES and resources >= MIN_RESOURCES


async def refresh_in_pages(
    runtime: Runtime,
    refresher: Refresher,
    resource_type: str,
    events: Sequence[Claimed],
    sent: Sequence[Event] = (),
) -> Refreshed:
    """Read the pages of `resource_type` events spanning `events`, store what they carry.

    What only events say (a failure's cause, a payout) is taken from the listed events and
    from `sent`, the claimed events as delivered, which a page may not list yet."""
    refreshed = Refreshed()
    moments = [e.gc_created_at for e in events if e.gc_created_at is not None]
    if not moments:
        return refreshed
    wanted = {e.event_id for e in events if e.event_id}
    since, until = _shown(min(moments)), _shown(max(moments))
    # Pages of other events inside the span (already processed ones) are bounded: twice the
    # pages the claimed events alone would need, after which the rest is fetched one by one.
    max_pages = 2 * math.ceil(len(events) / MAX_PAGE_SIZE) + 1
    after: str | None = None
    while refreshed.calls < max_pages:
        fetched_at = datetime.now(UTC)
        async with asyncio.timeout(runtime.settings.event_timeout_seconds) as deadline:
            with budget_waits_excluded(deadline):
                page = await refresher.gc.list_events_page_including(
                    after,
                    resource_type=resource_type,
                    include=INCLUDES[resource_type],
                    created_at__gte=since,
                    created_at__lte=until,
                )
                refreshed.calls += 1
                if resource_type == "payments":
                    await refresher.save_payments(
                        page.linked.payments, fetched_at, [*page.items, *sent]
                    )
                    carried = {p.id for p in page.linked.payments}
                else:
                    await refresher.save_mandates(page.linked.mandates, fetched_at)
                    carried = {m.id for m in page.linked.mandates}
        refreshed.covered |= carried
        for event in page.items:
            if event.id and resource_id(event) in carried:
                refreshed.listed_event_ids.append(event.id)
                wanted.discard(event.id)
        if not wanted or page.after is None or page.after == after:
            break
        after = page.after
    return refreshed


def _shown(moment: datetime) -> str:
    """GoCardless's own form, at the millisecond it shows events with."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
