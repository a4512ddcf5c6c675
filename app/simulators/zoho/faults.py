"""Injected trouble, switched per run: added latency, error answers, hung requests.

A rule matches calls by server side ("crm" or "accounts") and an optional path fragment,
and applies to the next `count` matching calls (or all of them when `count` is None).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from app.simulators.zoho.errors import ZohoApiError, api_error, too_many_requests

Target = Literal["crm", "accounts", "all"]


@dataclass
class FaultRule:
    target: Target = "crm"
    path_contains: str = ""
    latency_ms: int = 0
    # 429 answers TOO_MANY_REQUESTS, any 5xx INTERNAL_ERROR; None means no error.
    status: int | None = None
    # Hold the request this long, then drop it with 504: the caller should time out first.
    hang_seconds: float = 0.0
    count: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "path_contains": self.path_contains,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "hang_seconds": self.hang_seconds,
            "count": self.count,
        }


def _error_for(status: int) -> ZohoApiError:
    if status == 429:
        return too_many_requests()
    if status >= 500:
        return api_error(status, "INTERNAL_ERROR", "Internal Server Error")
    return api_error(status, "INVALID_REQUEST", "injected fault")


def take_matching(rules: list[FaultRule], side: str, path: str) -> list[FaultRule]:
    """Rules that fire for this call, spending one use of each counted rule."""
    fired: list[FaultRule] = []
    for rule in list(rules):
        if rule.target not in (side, "all") or rule.path_contains not in path:
            continue
        fired.append(rule)
        if rule.count is not None:
            rule.count -= 1
            if rule.count <= 0:
                rules.remove(rule)
    return fired


async def apply_faults(rules: list[FaultRule], side: str, path: str) -> None:
    for rule in take_matching(rules, side, path):
        if rule.latency_ms:
            await asyncio.sleep(rule.latency_ms / 1000)
        if rule.hang_seconds:
            await asyncio.sleep(rule.hang_seconds)
            raise api_error(504, "INTERNAL_ERROR", "Gateway Timeout")
        if rule.status is not None:
            raise _error_for(rule.status)
