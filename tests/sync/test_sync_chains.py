"""Sync Now's chain planning and progress estimate: pure functions of the stored state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.models import SyncRun
from app.services.sync.chains import MIN_SPLIT_PAGES, Chain, pages_left, plan_split
from app.services.sync.progress import estimate_sync

START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def customers(*, done: bool, oldest: datetime | None = None) -> Chain:
    return Chain("customers", "customers", listed=1000, pages=2, done=done, oldest_seen=oldest)


def mandates(*, done: bool = True, oldest: datetime | None = None) -> Chain:
    return Chain("mandates", "mandates", listed=1000, pages=2, done=done, oldest_seen=oldest)


def payments(name: str = "payments", **fields: object) -> Chain:
    values: dict[str, object] = {"listed": 1000, "pages": 2, "newest_seen": day(300)}
    values.update(fields)
    return Chain(name, "payments", **values)  # type: ignore[arg-type]


def test_a_window_is_exact_to_the_millisecond() -> None:
    window = Chain(
        "payments-2",
        "payments",
        created_from=datetime(2026, 3, 3, 10, 0, 0, 123000, tzinfo=UTC),
        created_before=datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert window.filters() == {
        "created_at__gte": "2026-03-03T10:00:00.123Z",
        "created_at__lt": "2026-04-01T00:00:00.000Z",
    }
    assert window.keeps(datetime(2026, 3, 3, 10, 0, 0, 123000, tzinfo=UTC))
    assert not window.keeps(datetime(2026, 3, 3, 10, 0, 0, 122000, tzinfo=UTC))
    assert not window.keeps(datetime(2026, 4, 1, tzinfo=UTC))
    assert Chain("payments", "payments").filters() == {}


def test_payments_are_not_split_before_anything_bounds_them_from_below() -> None:
    chains = [customers(done=False), mandates(done=False), payments(oldest_seen=day(200))]
    assert plan_split(chains, max_windows=4) is None


def test_the_remaining_span_is_cut_at_its_middle_once_a_finished_chain_bounds_it() -> None:
    # 1000 payments over 100 days listed; 200 days left down to the oldest mandate.
    chain = payments(oldest_seen=day(200))
    chains = [customers(done=True, oldest=day(-10)), mandates(oldest=day(0)), chain]
    split = plan_split(chains, max_windows=4)
    assert split is not None
    assert split.chain is chain
    assert split.at == day(100)
    assert split.pages_left == 1000 * 2 / 500


def test_no_split_when_too_few_pages_are_left_to_pay_for_it() -> None:
    chain = payments(oldest_seen=day(200), listed=100)
    chains = [customers(done=True, oldest=day(0)), mandates(oldest=day(0)), chain]
    left = pages_left(chain, day(0))
    assert left is not None and left < MIN_SPLIT_PAGES
    assert plan_split(chains, max_windows=4) is None


def test_the_window_with_most_left_is_split_and_never_beyond_the_limit() -> None:
    newer = payments("payments", created_from=day(150), oldest_seen=day(250))
    older = payments(
        "payments-2",
        created_before=day(150),
        newest_seen=day(149),
        oldest_seen=day(140),
        listed=2000,
    )
    chains = [customers(done=True, oldest=day(0)), mandates(oldest=day(0)), newer, older]
    split = plan_split(chains, max_windows=4)
    assert split is not None and split.chain is older
    assert split.at == day(70)
    assert plan_split(chains, max_windows=2) is None


def run(stage: str, started: datetime) -> SyncRun:
    return SyncRun(
        installation_id=None,
        state="running",
        stage=stage,
        started_at=started,
        contacts_linked=0,
        contacts_ambiguous=0,
    )


def counts(**values: int) -> dict[str, int]:
    names = ("customers", "payments")
    base = {f"{n}_{s}": 0 for n in names for s in ("synced", "rejected", "pending")}
    return base | values


def test_time_left_is_unknown_until_the_customers_chain_ends() -> None:
    started = NOW - timedelta(seconds=10)
    listing = [
        Chain("customers", "customers", listed=5000, pages=10, started_at=started),
        Chain("mandates", "mandates", listed=5000, pages=10, started_at=started),
        payments(started_at=started, oldest_seen=day(200)),
    ]
    estimate = estimate_sync(run("listing", started), listing, counts(), NOW)
    assert estimate.seconds_left is None
    assert estimate.expected == {"customers": None, "payments": None}
    assert estimate.progress == 0.0


def test_time_left_is_the_longer_of_the_listing_and_the_crm_writes() -> None:
    started = NOW - timedelta(seconds=10)
    chains = [
        customers(done=True, oldest=day(0)),
        mandates(oldest=day(0)),
        # 1000 listed over 100 days in 10 s (2 pages); 200 days, 4 pages, left.
        payments(started_at=started, oldest_seen=day(200)),
    ]
    for chain in chains[:2]:
        chain.started_at = started
    # Listing: 4 pages left at 6 pages per 10 s together, 2 pages per 10 s alone: 20 s.
    # CRM: 4000 expected, 1000 written in 10 s: 30 s.
    estimate = estimate_sync(
        run("listing", started), chains, counts(customers_synced=500, payments_synced=500), NOW
    )
    assert estimate.expected == {"customers": 1000, "payments": 3000}
    assert estimate.seconds_left == 30.0
    assert estimate.progress == 0.25
    assert estimate.pages_left == {"customers": 0.0, "mandates": 0.0, "payments": 4.0}


def test_a_window_split_off_a_moment_ago_is_estimated_at_its_siblings_density() -> None:
    started = NOW - timedelta(seconds=10)
    chains = [
        customers(done=True, oldest=day(0)),
        mandates(oldest=day(0)),
        # 1000 listed over days 200 to 300 (10 a day); split at day 100.
        payments(started_at=started, oldest_seen=day(200), created_from=day(100)),
        # Days 0 to 100 at the same density: 1000 payments, 2 pages; nothing listed yet.
        Chain("payments-2", "payments", created_before=day(100), started_at=NOW),
    ]
    for chain in chains[:2]:
        chain.started_at = started
    estimate = estimate_sync(
        run("listing", started), chains, counts(customers_synced=500, payments_synced=500), NOW
    )
    assert estimate.pages_left["payments-2"] == 2.0
    assert estimate.seconds_left is not None and estimate.progress > 0.1
