"""A clock that runs with the wall clock but can be moved forward on demand.

Simulated providers age their resources by calendar time (a payment is submitted days
after it is created); tests and demos cannot wait days, so every simulator reads time
from one of these and an admin call moves it forward.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime


class SimClock:
    """UTC time = wall clock + an offset, or a frozen instant when `frozen` is set."""

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen_at: datetime | None = None
        self._offset = timedelta(0)
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if frozen:
            self._frozen_at = start or datetime.now(UTC)
        elif start is not None:
            self._offset = start - datetime.now(UTC)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return datetime.now(UTC) + self._offset

    def today(self) -> date:
        return self.now().date()

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward (never back: resources must not travel into their past)."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta
        return self.now()


def http_date(moment: datetime) -> str:
    """RFC 9110 IMF-fixdate, e.g. `Wed, 19 Apr 2023 16:10:00 GMT`."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)
