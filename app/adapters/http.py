"""The one factory for outbound HTTP clients: explicit timeouts, pooled connections, our UA."""

from __future__ import annotations

import httpx

from app import __version__

USER_AGENT = f"gocardless-zoho/{__version__} httpx/{httpx.__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)


def build_http_client(
    *,
    base_url: str = "",
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=timeout,
        limits=DEFAULT_LIMITS,
        transport=transport,
        follow_redirects=False,
    )
