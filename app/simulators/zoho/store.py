"""In-memory records of one module, with the indexes that keep upserts and searches fast
at 200,000 records (equality look-ups never scan)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from app.simulators.zoho.schema import ModuleDef

Record = dict[str, Any]
# Owner-type fields are left out: every record of a one-user org shares the same value.
INDEXED_TYPES = frozenset({"email", "lookup", "multi_module_lookup"})


def index_key(value: Any) -> str | None:
    """Equality key: Zoho compares text case-insensitively and numbers by value."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return format(Decimal(value).normalize(), "f")
    return str(value)


class ModuleStore:
    def __init__(self, module: ModuleDef) -> None:
        self.module = module
        self.records: dict[str, Record] = {}
        # Ids ascend with creation time, so this list doubles as the Created_Time order.
        self._order: list[int] = []
        # field -> value key -> ids (a dict used as an insertion-ordered set: O(1) removal).
        self._indexes: dict[str, dict[str, dict[str, None]]] = {}
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the indexes after the schema changed (admin dropped or re-flagged a field)."""
        wanted = {
            f.api_name
            for f in self.module.fields.values()
            if f.unique
            or f.data_type in INDEXED_TYPES
            or f.api_name in self.module.system_duplicate_fields
        }
        self._indexes = {name: {} for name in wanted}
        for record_id, record in self.records.items():
            self._index(record_id, record)

    def indexed(self, api_name: str) -> bool:
        return api_name in self._indexes

    def _index(self, record_id: str, record: Record) -> None:
        for name, index in self._indexes.items():
            key = index_key(record.get(name))
            if key is not None:
                index.setdefault(key, {})[record_id] = None

    def _unindex(self, record_id: str, record: Record) -> None:
        for name, index in self._indexes.items():
            key = index_key(record.get(name))
            if key is None:
                continue
            ids = index.get(key)
            if ids is None:
                continue
            ids.pop(record_id, None)
            if not ids:
                del index[key]

    def insert(self, record: Record) -> None:
        record_id = record["id"]
        numeric = int(record_id)
        if self._order and numeric < self._order[-1]:
            self._order.insert(bisect_left(self._order, numeric), numeric)
        else:
            self._order.append(numeric)
        self.records[record_id] = record
        self._index(record_id, record)

    def update(self, record_id: str, changes: Record) -> Record:
        record = self.records[record_id]
        self._unindex(record_id, record)
        record.update(changes)
        self._index(record_id, record)
        return record

    def find(self, api_name: str, value: Any) -> list[str]:
        """Ids of the records whose indexed field equals value, oldest first."""
        key = index_key(value)
        if key is None:
            return []
        return sorted(self._indexes[api_name].get(key, {}), key=int)

    def ids_ascending(self, after: int | None = None) -> Iterator[str]:
        start = 0 if after is None else bisect_right(self._order, after)
        for numeric in self._order[start:]:
            yield str(numeric)

    def ids_descending(self, before: int | None = None) -> Iterator[str]:
        end = len(self._order) if before is None else bisect_left(self._order, before)
        for position in range(end - 1, -1, -1):
            yield str(self._order[position])

    def __len__(self) -> int:
        return len(self.records)
