"""The simulator's table: a created_at window pages like a filter, whatever the insert order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.simulators.gocardless.store import PageQuery, Table
from app.simulators.gocardless.validation import ListQuery

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    id: str
    created_at: datetime


def _walk(table: Table[Item], query: ListQuery, *, use_side: bool) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = table.page(
            PageQuery(limit=7, after=after),
            keep=lambda item: query.created_ok(item.created_at),
            created=query.created_side if use_side else None,
        )
        seen += [item.id for item in page.items]
        if page.after is None:
            return seen
        after = page.after


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize(
    "bounds",
    [
        [("gte", T0 + timedelta(minutes=10)), ("lt", T0 + timedelta(minutes=40))],
        [("gt", T0 + timedelta(minutes=10))],
        [("lte", T0 + timedelta(minutes=10))],
        [("gte", T0 + timedelta(minutes=40)), ("lt", T0 + timedelta(minutes=10))],  # empty
        [("gte", T0 - timedelta(days=1))],
    ],
)
def test_a_created_window_lists_what_the_filter_keeps(
    bounds: list[tuple[str, datetime]], shuffled: bool
) -> None:
    minutes = list(range(60))
    if shuffled:  # a payment created out of time order: the table must test every item
        minutes[30], minutes[31] = minutes[31], minutes[30]
    table: Table[Item] = Table()
    for n, minute in enumerate(minutes):
        # Two items a second apart sharing a minute's first half: ties and neighbours.
        table.add(f"PM{n:03d}", Item(f"PM{n:03d}", T0 + timedelta(minutes=minute, seconds=n % 2)))
    query = ListQuery(PageQuery(), created_at=bounds)
    expected = _walk(table, query, use_side=False)
    assert _walk(table, query, use_side=True) == expected
    assert expected == [
        f"PM{n:03d}"
        for n in reversed(range(60))
        if query.created_ok(T0 + timedelta(minutes=minutes[n], seconds=n % 2))
    ]
