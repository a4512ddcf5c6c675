"""Provider-looking identifiers that are unique within a run and repeatable from a seed."""

from __future__ import annotations

import random
import string
import threading

_BASE36 = string.digits + string.ascii_uppercase


class IdGenerator:
    """`next("PM")` gives e.g. `PM000A1B2C3D4E`: a counter keeps ids unique, the seeded
    random tail keeps them from looking sequential (clients must not rely on order)."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)  # noqa: S311 - ids, not secrets
        self._counter = 0
        self._lock = threading.Lock()

    def next(self, prefix: str, *, length: int = 12) -> str:
        with self._lock:
            self._counter += 1
            counter = _to_base36(self._counter).rjust(max(length - 6, 1), "0")
            tail = "".join(self._random.choices(_BASE36, k=max(length - len(counter), 0)))
        return f"{prefix}{counter}{tail}"

    def digits(self, length: int) -> str:
        with self._lock:
            return "".join(self._random.choices(string.digits, k=length))

    def token(self, length: int = 40) -> str:
        """An opaque secret-looking string; simulators only, never real credentials."""
        alphabet = string.ascii_letters + string.digits + "_-"
        with self._lock:
            return "".join(self._random.choices(alphabet, k=length))


def _to_base36(number: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 36)
        digits.append(_BASE36[rest])
    return "".join(reversed(digits)) or "0"
