"""Record-style ids: 19-digit numeric strings made of an org prefix and a counter, the
shape real CRM ids have (e.g. 4150868000000224005), deterministic for a given seed."""

from __future__ import annotations


class IdSequence:
    def __init__(self, prefix: int, start: int = 224_001) -> None:
        if not 1_000_000 <= prefix <= 9_999_999:
            raise ValueError("prefix must have seven digits")
        self._prefix = prefix
        self._counter = start

    def next(self) -> str:
        value = f"{self._prefix}{self._counter:012d}"
        self._counter += 1
        return value
