"""An insertion-ordered table with secondary indexes and cursor pagination.

Lists are newest first. A cursor is a resource id: `after=X` pages towards older items,
`before=X` towards newer ones. Filters narrow by one index when they can (a customer's
mandates, a mandate's payments), or by a `created_at` window found by bisection while the
items were added in time order (as GoCardless creates them), and test the rest item by
item, so paging through 200,000 payments stays cheap.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

R = TypeVar("R")
# Where a moment lies against a created_at window: -1 before it, 0 in it, 1 after it.
Side = Callable[[datetime], int]


class CursorError(Exception):
    def __init__(self, parameter: str) -> None:
        super().__init__(parameter)
        self.parameter = parameter


@dataclass(frozen=True)
class PageQuery:
    limit: int = 50
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class Page(Generic[R]):
    items: list[R]
    before: str | None
    after: str | None


class Table(Generic[R]):
    def __init__(self, *indexed: str) -> None:
        self._items: dict[str, R] = {}
        self._order: list[str] = []
        self._seq: dict[str, int] = {}
        self._indexes: dict[str, dict[str, list[str]]] = {name: {} for name in indexed}
        # Each item's created_at in insertion order, while that order is also time order.
        self._created: list[datetime] | None = []

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def add(self, item_id: str, item: R, **keys: str | None) -> None:
        """Store a new item; `keys` gives its value for each index (ids only ever grow)."""
        if item_id in self._items:
            raise ValueError(f"duplicate id {item_id}")
        self._items[item_id] = item
        self._seq[item_id] = len(self._order)
        self._order.append(item_id)
        created = getattr(item, "created_at", None)
        if self._created is not None:
            if created is None or (self._created and created < self._created[-1]):
                self._created = None
            else:
                self._created.append(created)
        for name, value in keys.items():
            if value is not None:
                self._indexes[name].setdefault(value, []).append(item_id)

    def get(self, item_id: str) -> R | None:
        return self._items.get(item_id)

    def ids_for(self, index: str, value: str) -> list[str]:
        return self._indexes[index].get(value, [])

    def newest_first(self) -> Iterator[R]:
        for item_id in reversed(self._order):
            yield self._items[item_id]

    def clear(self) -> None:
        self._items.clear()
        self._order.clear()
        self._seq.clear()
        self._created = []
        for index in self._indexes.values():
            index.clear()

    def page(
        self,
        query: PageQuery,
        *,
        narrow: tuple[str, str] | None = None,
        keep: Callable[[R], bool] | None = None,
        sort_key: Callable[[R], Any] | None = None,
        descending: bool = True,
        created: Side | None = None,
    ) -> Page[R]:
        """`keep` decides each item; `created`, which `keep` must agree with, only lets an
        unnarrowed listing skip the items outside its window without testing them."""
        for name, cursor in (("after", query.after), ("before", query.before)):
            if cursor is not None and cursor not in self._seq:
                raise CursorError(name)
        if narrow is not None:
            candidates = self.ids_for(*narrow)
        elif created is not None and self._created is not None:
            start = bisect_left(self._created, 0, key=created)
            candidates = self._order[start : bisect_left(self._created, 1, lo=start, key=created)]
        else:
            candidates = self._order
        if sort_key is not None:
            return self._sorted_page(query, candidates, keep, sort_key, descending)
        return self._insertion_page(query, candidates, keep)

    def _insertion_page(
        self, query: PageQuery, candidates: list[str], keep: Callable[[R], bool] | None
    ) -> Page[R]:
        wanted = query.limit + 1
        found: list[R] = []
        if query.before is not None and query.after is None:
            start = bisect_left(candidates, self._seq[query.before], key=self._seq.__getitem__)
            if start < len(candidates) and candidates[start] == query.before:
                start += 1
            for item_id in candidates[start:]:
                item = self._items[item_id]
                if keep is None or keep(item):
                    found.append(item)
                    if len(found) == wanted:
                        break
            more_newer = len(found) == wanted
            items = list(reversed(found[: query.limit]))
            return Page(
                items,
                before=_id(items[0]) if items and more_newer else None,
                after=_id(items[-1]) if items else None,
            )
        end = len(candidates)
        if query.after is not None:
            end = bisect_left(candidates, self._seq[query.after], key=self._seq.__getitem__)
        for position in range(end - 1, -1, -1):
            item = self._items[candidates[position]]
            if keep is None or keep(item):
                found.append(item)
                if len(found) == wanted:
                    break
        more_older = len(found) == wanted
        items = found[: query.limit]
        return Page(
            items,
            before=_id(items[0]) if items and query.after is not None else None,
            after=_id(items[-1]) if items and more_older else None,
        )

    def _sorted_page(
        self,
        query: PageQuery,
        candidates: list[str],
        keep: Callable[[R], bool] | None,
        sort_key: Callable[[R], Any],
        descending: bool,
    ) -> Page[R]:
        matching = [self._items[i] for i in candidates]
        if keep is not None:
            matching = [item for item in matching if keep(item)]
        matching.sort(key=lambda item: (sort_key(item), self._seq[_id(item)]), reverse=descending)
        positions = {_id(item): n for n, item in enumerate(matching)}
        start, stop = 0, len(matching)
        if query.after is not None:
            start = positions.get(query.after, -1) + 1
            stop = start + query.limit
        elif query.before is not None:
            stop = positions.get(query.before, 0)
            start = max(stop - query.limit, 0)
        else:
            stop = query.limit
        items = matching[start:stop]
        return Page(
            items,
            before=_id(items[0]) if items and start > 0 else None,
            after=_id(items[-1]) if items and stop < len(matching) else None,
        )


def _id(item: Any) -> str:
    item_id: str = item.id
    return item_id
