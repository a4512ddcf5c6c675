"""Deadlines that waiting for a provider budget does not use up.

An event gets `EVENT_TIMEOUT_SECONDS` to be processed: long enough for its calls, short
enough that a hung one cannot hold up its merchant. Waiting for the merchant's GoCardless
budget is not such a hang: when the merchant's other use of its token has left less than our
reserve, background calls wait for the provider's window to reset (up to a minute). Counted
against the event, that wait timed events out and spent their attempts (8, then parked) for
nothing they did. So while a call under a deadline waits for the budget, the deadline stands
still, and moves on by as long as the wait took.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar


class _Paused:
    """One deadline, held while any call under it waits (calls may run side by side)."""

    def __init__(self, timeout: asyncio.Timeout) -> None:
        self._timeout = timeout
        self._waiting = 0
        self._when: float | None = None
        self._since = 0.0

    def pause(self) -> None:
        if self._waiting == 0:
            self._when = self._timeout.when()
            self._since = asyncio.get_running_loop().time()
            if self._when is not None:
                self._timeout.reschedule(None)
        self._waiting += 1

    def resume(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and self._when is not None:
            waited = asyncio.get_running_loop().time() - self._since
            self._timeout.reschedule(self._when + waited)
            self._when = None


_current: ContextVar[_Paused | None] = ContextVar("budget_waits_excluded", default=None)


@contextlib.contextmanager
def budget_waits_excluded(timeout: asyncio.Timeout) -> Iterator[None]:
    """Inside, `waiting_for_budget` holds `timeout` still (see the module's docstring)."""
    token = _current.set(_Paused(timeout))
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def waiting_for_budget() -> Iterator[None]:
    """Around a wait for a provider budget: the caller's deadline, if any, stands still."""
    paused = _current.get()
    if paused is None:
        yield
        return
    paused.pause()
    try:
        yield
    finally:
        paused.resume()
