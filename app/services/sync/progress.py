"""What the settings page shows of Sync Now: each chain, the CRM writes, the time left.

GoCardless gives no totals, so what is left is estimated from what was seen: a chain's
remaining pages from the density of what it listed over the `created_at` span still ahead
of it (down to a lower bound: a finished customers chain bounds the mandates, a finished
mandates chain the payments); time from the rates so far. The listing and the CRM writes
overlap, so the time left is the longer of the two. Until a bound is known (the customers
chain has no lower bound until it ends) the time left is null.

Once Sync Now has finished its counts are the ones frozen then; records webhooks bring
later are counted apart (`*_added_since`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.models import SyncRun, SyncStage, SyncState
from app.schemas.installations import (
    CrmWrites,
    CrmWriteStatus,
    SyncChainStatus,
    SyncStatus,
)
from app.services.sync.chains import (
    PAGE_SIZE,
    RESOURCES,
    Chain,
    pages_left,
    payments_density,
    payments_floor,
)

# Share of the bar while nothing can be estimated yet, filled as chains finish.
_UNESTIMATED_SHARE = 0.1
# Running syncs never show 100 %.
_RUNNING_CAP = 0.99


@dataclass(frozen=True)
class Estimate:
    seconds_left: float | None
    progress: float
    # Per chain name: estimated pages left (None: not estimable yet).
    pages_left: dict[str, float | None]
    # Per resource: listed plus estimated still to list (None: not estimable yet).
    expected: dict[str, int | None]


def describe_sync(
    run: SyncRun | None,
    chains: list[Chain],
    counts: dict[str, int],
    *,
    can_start: bool,
    now: datetime,
) -> SyncStatus:
    if run is None:
        return SyncStatus(
            state="not_started",
            can_sync_now=can_start,
            customers_synced=counts["customers_synced"],
            payments_synced=counts["payments_synced"],
            progress=0.0,
        )
    listed = {r: sum(c.listed for c in chains if c.resource == r) for r in RESOURCES}
    estimate = estimate_sync(run, chains, counts, now)
    synced = {name: counts[f"{name}_synced"] for name in ("customers", "payments")}
    rejected = {name: counts[f"{name}_rejected"] for name in ("customers", "payments")}
    added = {"customers": 0, "payments": 0}
    if run.customers_synced is not None and run.payments_synced is not None:
        frozen_synced = {"customers": run.customers_synced, "payments": run.payments_synced}
        frozen_rejected = {
            "customers": run.customers_rejected or 0,
            "payments": run.payments_rejected or 0,
        }
        for name in added:
            live = synced[name] + rejected[name] + counts[f"{name}_pending"]
            added[name] = max(live - frozen_synced[name] - frozen_rejected[name], 0)
        synced, rejected = frozen_synced, frozen_rejected
    return SyncStatus(
        state=run.state,
        can_sync_now=can_start and run.state == SyncState.failed,
        customers_synced=synced["customers"],
        payments_synced=synced["payments"],
        progress=estimate.progress,
        stage=run.stage,
        customers_listed=listed["customers"],
        mandates_listed=listed["mandates"],
        payments_listed=listed["payments"],
        customers_rejected=rejected["customers"],
        payments_rejected=rejected["payments"],
        contacts_linked=run.contacts_linked,
        contacts_ambiguous=run.contacts_ambiguous,
        error=run.error,
        started_at=run.started_at,
        finished_at=run.finished_at,
        seconds_left=None if estimate.seconds_left is None else round(estimate.seconds_left),
        chains=[
            SyncChainStatus(
                name=c.name,
                resource=c.resource,
                created_from=c.created_from,
                created_before=c.created_before,
                listed=c.listed,
                pages=c.pages,
                pages_left=_whole(estimate.pages_left.get(c.name)),
                done=c.done,
            )
            for c in chains
        ],
        crm_writes=CrmWrites(
            **{
                name: CrmWriteStatus(
                    written=synced[name],
                    rejected=rejected[name],
                    waiting=0 if run.state == SyncState.succeeded else counts[f"{name}_pending"],
                    expected=estimate.expected[name],
                )
                for name in ("customers", "payments")
            }
        ),
        customers_added_since=added["customers"],
        payments_added_since=added["payments"],
    )


def estimate_sync(
    run: SyncRun, chains: list[Chain], counts: dict[str, int], now: datetime
) -> Estimate:
    """Time left and progress from what the run has done so far (a pure function of its
    stored state and `now`)."""
    # A window split off a moment ago is estimated at its siblings' density: unestimated, it
    # dropped the bar from 42 % back to 5 % until its first page.
    density = payments_density(chains)
    left = {
        c.name: pages_left(c, _floor(c, chains), density if c.resource == "payments" else None)
        for c in chains
    }
    expected: dict[str, int | None] = {}
    for resource in ("customers", "payments"):
        mine = [c for c in chains if c.resource == resource]
        unknown = not mine or any(left[c.name] is None for c in mine)
        expected[resource] = (
            None
            if unknown
            else sum(c.listed + round((left[c.name] or 0.0) * PAGE_SIZE) for c in mine)
        )
    if run.state == SyncState.succeeded:
        return Estimate(0.0, 1.0, left, expected)
    listing = _listing_left(run, chains, left, now)
    crm = _crm_left(run, counts, expected, now)
    seconds = None if listing is None or crm is None else max(listing, crm)
    if run.stage == SyncStage.replay:
        seconds = 0.0
    elapsed = (now - run.started_at).total_seconds()
    if seconds is None:
        finished = sum(c.done for c in chains)
        progress = _UNESTIMATED_SHARE * finished / len(chains) if chains else 0.0
    elif elapsed + seconds <= 0:
        progress = 0.0
    else:
        progress = elapsed / (elapsed + seconds)
    if run.state == SyncState.running:
        progress = min(progress, _RUNNING_CAP)
    return Estimate(seconds, round(min(max(progress, 0.0), 1.0), 3), left, expected)


def _floor(chain: Chain, chains: list[Chain]) -> datetime | None:
    if chain.resource == "payments":
        return payments_floor(chains)
    if chain.resource == "mandates":
        customers = [c for c in chains if c.resource == "customers" and c.done]
        return customers[0].oldest_seen if customers else None
    return None


def _listing_left(
    run: SyncRun, chains: list[Chain], left: dict[str, float | None], now: datetime
) -> float | None:
    if run.stage != SyncStage.listing:
        return 0.0
    if any(value is None for value in left.values()):
        return None
    started = [c.started_at for c in chains if c.started_at is not None and c.pages]
    if not started:
        return None
    elapsed = (now - min(started)).total_seconds()
    pages = sum(c.pages for c in chains)
    if elapsed <= 0 or not pages:
        return None
    # All chains share GoCardless's rate limit; no chain goes faster than its own pace.
    together = sum(value or 0.0 for value in left.values()) * elapsed / pages
    alone = max(
        (
            (left[c.name] or 0.0) * (now - c.started_at).total_seconds() / c.pages
            for c in chains
            if c.started_at is not None and c.pages and not c.done
        ),
        default=0.0,
    )
    return max(together, alone)


def _crm_left(
    run: SyncRun, counts: dict[str, int], expected: dict[str, int | None], now: datetime
) -> float | None:
    written = sum(
        counts[f"{name}_{state}"] for name in expected for state in ("synced", "rejected")
    )
    if run.stage == SyncStage.listing:
        if any(value is None for value in expected.values()):
            return None
        remaining = sum(value or 0 for value in expected.values()) - written
    else:
        remaining = counts["customers_pending"] + counts["payments_pending"]
    if remaining <= 0:
        return 0.0
    elapsed = (now - run.started_at).total_seconds()
    if not written or elapsed <= 0:
        return None
    return remaining * elapsed / written


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)
