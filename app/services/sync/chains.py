"""Sync Now's cursor chains: what each lists, where it stands, and when one is split.

Customers, mandates and payments are independent cursor chains, listed at once. The
payments listing is usually the longest by far, so it is split into `created_at` windows
(`created_at[gte]`/`created_at[lt]`), each a chain of its own, whenever a chain finishes
and the remaining payments are worth it: the other chains' slots are then filled again.

A split needs a lower bound of the payments' `created_at`: a finished customers or mandates
chain gives one for free (no payment is older than its mandate, nor a mandate than its
customer). It cuts the remaining span of the chain with the most work left in two at its
middle; the old chain keeps the newer half (its `created_from` rises, its cursor stays), a
new chain lists the older half. Each costs at most about one extra call (the new chain's
last, partial page), so a split is made only when enough pages are left to pay for it.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.db import uninterrupted
from app.models import SyncChain
from app.runtime import Runtime

PAGE_SIZE = 500
RESOURCES = ("customers", "mandates", "payments")
# A split's two halves should each be worth a couple of pages, or the extra call is wasted.
MIN_SPLIT_PAGES = 4
# GoCardless shows timestamps to the millisecond; a window's bounds are too.
_MS = timedelta(milliseconds=1)


@dataclass
class Chain:
    """A chain's stored state, kept in memory while it lists."""

    name: str
    resource: str
    created_from: datetime | None = None
    created_before: datetime | None = None
    cursor: str | None = None
    listed: int = 0
    pages: int = 0
    newest_seen: datetime | None = None
    oldest_seen: datetime | None = None
    done: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Held while a page is stored or the chain is split, so a split never cuts below rows
    # the chain has already stored.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)

    @classmethod
    def from_row(cls, row: SyncChain) -> Chain:
        return cls(
            name=row.name,
            resource=row.resource,
            created_from=row.created_from,
            created_before=row.created_before,
            cursor=row.cursor,
            listed=row.listed,
            pages=row.pages,
            newest_seen=row.newest_seen,
            oldest_seen=row.oldest_seen,
            done=row.done,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )

    def filters(self) -> dict[str, str]:
        """The list call's `created_at` filters for this chain's window."""
        filters: dict[str, str] = {}
        if self.created_from is not None:
            filters["created_at__gte"] = timestamp(self.created_from)
        if self.created_before is not None:
            filters["created_at__lt"] = timestamp(self.created_before)
        return filters

    def keeps(self, created_at: datetime | None) -> bool:
        """Whether a listed item is this chain's: a page asked for before a split may reach
        below the chain's new `created_from` into the new chain's window."""
        if created_at is None:
            return True
        if self.created_from is not None and created_at < self.created_from:
            return False
        return self.created_before is None or created_at < self.created_before


@dataclass(frozen=True)
class Split:
    chain: Chain
    at: datetime
    pages_left: float


def timestamp(moment: datetime) -> str:
    """GoCardless's own format: UTC, milliseconds, `Z`."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def payments_floor(chains: list[Chain]) -> datetime | None:
    """No payment is older than the oldest mandate, nor a mandate than the oldest customer."""
    bounds = [
        c.oldest_seen
        for c in chains
        if c.resource in ("customers", "mandates") and c.done and c.oldest_seen is not None
    ]
    return max(bounds) if bounds else None


def pages_left(chain: Chain, floor: datetime | None, density: float | None = None) -> float | None:
    """Pages this chain still has to list, from the density of what it listed so far; None
    while nothing bounds it from below. A window that has listed nothing yet is estimated at
    `density` (payments per second of `created_at`, its siblings'), if known."""
    if chain.done:
        return 0.0
    lower = _lower(chain, floor)
    if lower is None:
        return None
    if chain.oldest_seen is None or chain.newest_seen is None:
        if density is None or chain.created_before is None:
            return None
        span_seconds = max((chain.created_before - lower).total_seconds(), 0.0)
        return max(density * span_seconds / PAGE_SIZE, 1.0)
    top = chain.created_before or chain.newest_seen
    span = max(top - chain.oldest_seen, _MS)
    left = max(chain.oldest_seen - lower, timedelta(0))
    # At least the page in flight: an unfinished chain has one more call to make.
    return max(chain.listed * (left / span) / PAGE_SIZE, 1.0)


def payments_density(chains: list[Chain]) -> float | None:
    """Payments listed per second of `created_at` span, over the windows that listed some."""
    listed = span = 0.0
    for c in chains:
        if c.resource == "payments" and c.listed and c.oldest_seen and c.newest_seen:
            listed += c.listed
            span += ((c.created_before or c.newest_seen) - c.oldest_seen).total_seconds()
    return listed / span if span > 0 else None


def plan_split(chains: list[Chain], max_windows: int) -> Split | None:
    """The payments chain to split now, and where; None when no split pays for itself."""
    windows = [c for c in chains if c.resource == "payments"]
    if len(windows) >= max_windows:
        return None
    floor = payments_floor(chains)
    best: Split | None = None
    for chain in windows:
        lower = _lower(chain, floor)
        left = pages_left(chain, floor)
        if lower is None or left is None or chain.oldest_seen is None:
            continue
        at = _to_ms(lower + (chain.oldest_seen - lower) / 2)
        if left < MIN_SPLIT_PAGES or not lower < at < chain.oldest_seen:
            continue
        if best is None or left > best.pages_left:
            best = Split(chain, at, left)
    return best


def _lower(chain: Chain, floor: datetime | None) -> datetime | None:
    bounds = [b for b in (chain.created_from, floor) if b is not None]
    return max(bounds) if bounds else None


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


async def load_chains(runtime: Runtime, installation_id: uuid.UUID) -> list[Chain]:
    """The run's chains, made on its first listing: one per resource."""
    async with runtime.sessionmaker() as session, session.begin():
        rows = (
            await session.scalars(
                select(SyncChain)
                .where(SyncChain.installation_id == installation_id)
                .order_by(SyncChain.name)
            )
        ).all()
        if not rows:
            rows = [
                SyncChain(installation_id=installation_id, name=resource, resource=resource)
                for resource in RESOURCES
            ]
            session.add_all(rows)
            await session.flush()
        return [Chain.from_row(row) for row in rows]


async def split_chain(
    runtime: Runtime, installation_id: uuid.UUID, split: Split, name: str
) -> Chain | None:
    """Give the part of `split.chain`'s window below `split.at` to a new chain, durably;
    None if the chain has meanwhile listed past that point."""
    chain = split.chain
    async with chain.lock:
        if chain.done or chain.oldest_seen is None or chain.oldest_seen <= split.at:
            return None
        new = Chain(
            name=name,
            resource=chain.resource,
            created_from=chain.created_from,
            created_before=split.at,
        )

        async def write() -> None:
            async with runtime.sessionmaker() as session, session.begin():
                await session.execute(
                    update(SyncChain)
                    .where(
                        SyncChain.installation_id == installation_id,
                        SyncChain.name == chain.name,
                    )
                    .values(created_from=split.at)
                )
                session.add(
                    SyncChain(
                        installation_id=installation_id,
                        name=new.name,
                        resource=new.resource,
                        created_from=new.created_from,
                        created_before=new.created_before,
                    )
                )

        await uninterrupted(write())
        chain.created_from = split.at
    return new
