"""The demo's API docs need no network: Swagger UI and ReDoc of our service and of both
simulators load their JavaScript and CSS from the server itself. Chromium may reach loopback
addresses only; every other request is aborted and recorded."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route, expect

from tests.demo.browser import browser  # noqa: F401
from tests.demo.html import parse
from tests.demo.test_demo_smoke import RunningDemo, _href, demo  # noqa: F401

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "docs"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# (server, page, an operation the page must show once its JavaScript has run)
PAGES = (
    ("service", "/docs", "Create an installation (operator)"),
    ("service", "/redoc", "Create an installation (operator)"),
    ("gocardless", "/_sim/docs", "Create Organisation"),
    ("gocardless", "/_sim/redoc", "Create Organisation"),
    ("zoho", "/_sim/docs", "List Orgs"),
    ("zoho", "/_sim/redoc", "List Orgs"),
)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_api_docs_render_with_only_loopback_reachable(
    demo: RunningDemo,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    start = parse(httpx.get(demo.url, timeout=10.0).text)
    servers = {
        "service": origin(demo.url),
        "gocardless": origin(_href(start, "gocardless-admin")),
        "zoho": origin(_href(start, "crm-invoices")),
    }
    loaded: list[str] = []
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK:
            loaded.append(url)
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", only_loopback)
    page = context.new_page()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        for server, path, operation in PAGES:
            page.goto(servers[server] + path)
            if path.endswith("/redoc"):
                shown = page.get_by_role("heading", name=operation, level=2)
            else:
                shown = page.locator(".opblock-summary-description", has_text=operation)
            expect(shown.first).to_be_visible(timeout=20_000)
            page.screenshot(path=str(ARTIFACTS / f"{server}{path.replace('/', '-')}.png"))
    finally:
        context.close()

    assert blocked == []
    assets = {urlsplit(url).path.rsplit("/", 1)[-1] for url in loaded if "/docs-assets/" in url}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"} <= assets
