"""Browser tests of the CRM widget: Debian's chromium driven by Playwright, the widget's files
served by a small static server, every API call answered by `page.route` (see fake_api.py)."""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, sync_playwright

from tests.widget.data import ORG_ID, SESSION, Snapshot
from tests.widget.fake_api import FakeApi

ROOT = Path(__file__).resolve().parents[2]
WIDGET_DIR = ROOT / "app" / "widget"
ARTIFACTS = ROOT / "test-artifacts" / "widget"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The size of Zoho's button popup.
POPUP: ViewportSize = {"width": 420, "height": 560}


class _WidgetFiles(SimpleHTTPRequestHandler):
    """Serves app/widget under /widget/, as the service mounts it."""

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        if not path.startswith("/widget/"):
            return str(WIDGET_DIR / "__missing__")
        return super().translate_path(path.removeprefix("/widget"))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def widget_url() -> Iterator[str]:
    handler = functools.partial(_WidgetFiles, directory=str(WIDGET_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="widget-files", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/widget"
    server.shutdown()
    server.server_close()
    thread.join()


# Module scope, not session: while the sync driver runs it marks the thread's event loop as
# running, which would break every async test pytest runs after these in the same session.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the widget's browser tests need Debian's chromium "
            "(apt-get install -y chromium)",
            pytrace=False,
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


def _artifact_name(item: pytest.Item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)


# The API bases the tests point the widget at; a signed-in page has a session for each.
SIGNED_IN_BASES = ("http://api.service.test/base", "https://api.service.test")


def _signed_in_script() -> str:
    session = json.dumps(SESSION)
    bases = json.dumps(SIGNED_IN_BASES)
    return (
        f"for (const base of [location.origin, ...{bases}]) "
        f"sessionStorage.setItem('gocardless-zoho-session:' + base + '|{ORG_ID}', '{session}');"
    )


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """The widget's window, signed in already (as after the sign-in popup) unless the test is
    marked `signed_out`."""
    context = browser.new_context(
        viewport=POPUP, locale="en-GB", timezone_id="Europe/London", reduced_motion="reduce"
    )
    context.set_default_timeout(5000)
    # A page load waits on the local server and the browser's start-up: on a machine busy
    # with the rest of the suite one took more than 5 s in CI (the widget had done nothing).
    context.set_default_navigation_timeout(20000)
    if request.node.get_closest_marker("signed_out") is None:
        context.add_init_script(_signed_in_script())
    page = context.new_page()
    yield page
    call = request.node.stash.get(_reports, {}).get("call")
    if call is not None and call.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"FAILED-{_artifact_name(request.node)}.png")
    context.close()


@pytest.fixture
def api(page: Page) -> FakeApi:
    return FakeApi(page)


@pytest.fixture
def snapshot(page: Page) -> Snapshot:
    """Keeps a picture of a state worth looking at in test-artifacts/widget/."""

    def take(name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{name}.png")

    return take
