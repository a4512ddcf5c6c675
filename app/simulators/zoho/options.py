"""Knobs of one simulator instance, fixed when it is built (a few can be changed at run time
through the admin API, see `routes_admin`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ZohoSimOptions:
    # Both `api_domain` in token answers and `accounts-server` on the redirect: the real
    # services live on different hosts, the simulator serves both from one.
    base_url: str = "http://127.0.0.1:8002"
    # Extension namespace, e.g. "gocardless__": prefixes the custom modules and their
    # custom fields, as Zoho does for components shipped in an extension.
    namespace: str = ""
    access_token_lifetime: int = 3600
    # Accounts docs say 2 minutes, the CRM v8 page 3: the shorter one catches slow callers.
    code_lifetime: int = 120
    # Access tokens one refresh token may mint per window before "Access Denied".
    refresh_limit: int = 10
    refresh_window: int = 600
    # Still-valid access tokens per refresh token; minting one more evicts the oldest.
    # The Accounts page says 10, the CRM v8 page 15: the stricter figure surfaces the
    # "workers refreshing on their own kill each other's tokens" problem sooner.
    max_live_access_tokens: int = 10
    # Refresh tokens per user and client; the 21st silently revokes the oldest.
    max_refresh_tokens: int = 20
    # Calls in flight at once per org (Standard edition figure); 0 disables the check.
    concurrency_limit: int = 10
    page_token_lifetime: int = 86400
    # Where the simulated Invoice page's buttons open the product's widget.
    widget_url: str = "http://127.0.0.1:8000/widget/"
    # Seconds since the epoch; tests pass a controllable clock to age tokens and codes.
    clock: Callable[[], float] = field(default=time.time)

    def api_domain(self) -> str:
        return self.base_url.rstrip("/")


class ManualClock:
    """A clock tests move by hand: `clock.advance(3601)` expires an access token."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
