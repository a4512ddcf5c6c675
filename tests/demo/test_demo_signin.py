"""Widget sign-in in Debian's chromium against the real service and both simulators.

The demo runs as a subprocess (SQLite, service, simulators). Widget users sign in through the
Zoho simulator's consent page, as two different people: the administrator connects both
accounts and runs Sync Now from the settings page; the Standard user sees settings they cannot
change, and collects an invoice from the simulated CRM's Invoice page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Page, expect

from tests.demo.browser import browser  # noqa: F401
from tests.demo.html import parse
from tests.demo.test_demo_smoke import (  # noqa: F401
    RunningDemo,
    _href,
    _text,
    authorize_both,
    demo,
    sign_in,
)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "demo"


def demo_env(demo: RunningDemo, client: httpx.Client) -> dict[str, str]:  # noqa: F811
    page = parse(client.get(demo.url).text)
    split = urlsplit(_href(page, "crm-invoices"))
    return {
        "service": f"{urlsplit(demo.url).scheme}://{urlsplit(demo.url).netloc}",
        "zoho": f"{split.scheme}://{split.netloc}",
        "admin_id": _text(page, "admin-user-id"),
        "standard_id": _text(page, "standard-user-id"),
        "org_id": _text(page, "zoho-org-id"),
        "settings": _href(page, "settings"),
    }


def invoice_page(client: httpx.Client, zoho: str, subject: str, user_id: str) -> str:
    """The simulated CRM's page for the invoice with this subject, signed in as `user_id`."""
    listing = client.get(f"{zoho}/_sim/crm").text
    match = re.search(
        rf"<a href='(/_sim/crm/invoices/\d+)'>[^<]*</a></td><td>{re.escape(subject)}<", listing
    )
    assert match is not None, f"no invoice {subject!r} in the CRM list"
    return f"{zoho}{match.group(1)}?user_id={user_id}"


def open_widget(page: Page, url: str, button: str) -> FrameLocator:
    page.goto(url)
    page.get_by_role("button", name=button).click()
    return page.frame_locator("iframe#widget")


def sign_in_with_zoho(page: Page, where: Page | FrameLocator, user_name: str) -> None:
    """Press the widget's Sign in with Zoho and accept the simulator's consent as this user."""
    with page.expect_popup() as opened:
        where.get_by_role("button", name="Sign in with Zoho").click()
    consent = opened.value
    account = consent.locator("select[name=account]")
    expect(consent.get_by_role("heading", name=re.compile("Authorize"))).to_be_visible()
    assert "ZohoCRM.users.READ" in consent.content() and "modules" not in consent.content()
    chosen = next(
        option.get_attribute("value")
        for option in account.locator("option").all()
        if user_name in option.inner_text()
    )
    account.select_option(chosen)
    # Our callback page hands the session to the widget and closes itself.
    with consent.expect_event("close"):
        consent.get_by_role("button", name="Accept").click()


def approve_in_new_tab(context: BrowserContext, page: Page, link: str, button: str) -> None:
    with context.expect_page() as opened:
        page.get_by_role("link", name=re.compile(link)).click()
    consent = opened.value
    consent.get_by_role("button", name=button).click()
    expect(consent.get_by_role("heading", name=re.compile("connected"))).to_be_visible()
    consent.close()


def test_two_users_sign_in_and_see_what_each_may_do(
    demo: RunningDemo,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    client = httpx.Client(timeout=10.0)
    env = demo_env(demo, client)
    context = browser.new_context(viewport={"width": 900, "height": 900}, locale="en-GB")
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        # The administrator: signs in, is handed the authorize links, runs Sync Now.
        page.goto(env["settings"])
        expect(page.get_by_role("heading", name="Sign in with Zoho")).to_be_visible()
        sign_in_with_zoho(page, page, "Ada Admin")
        expect(page.locator("#signed-in-as")).to_contain_text("(administrator)")
        approve_in_new_tab(context, page, "Authorize Zoho CRM", "Accept")
        approve_in_new_tab(context, page, "Authorize GoCardless", "Approve")
        page.get_by_role("button", name="Refresh").click()
        page.get_by_role("button", name="Sync Now").click()
        expect(page.locator("#sync")).to_have_attribute("data-state", "succeeded")
        page.screenshot(path=_artifact("01-admin-synced.png"))

        # The Standard user, in a fresh window: may read the settings, may not change them.
        other = context.new_page()
        other.goto(env["settings"])
        sign_in_with_zoho(other, other, "Sam Standard")
        expect(other.locator("#signed-in-as")).to_contain_text(
            "Only a CRM administrator can authorize accounts or run Sync Now."
        )
        expect(other.locator("#sync")).to_have_attribute("data-state", "succeeded")
        expect(other.get_by_role("link", name=re.compile("Authorize"))).to_have_count(0)
        other.screenshot(path=_artifact("02-standard-user-settings.png"))

        # ... but may collect an invoice (the demo installs for all users): in a new window
        # the CRM's button opens the widget, which asks them to sign in first.
        crm = context.new_page()
        jane = invoice_page(client, env["zoho"], "Website redesign", env["standard_id"])
        widget = open_widget(crm, jane, "Send Invoice - GoCardless")
        sign_in_with_zoho(crm, widget, "Sam Standard")
        expect(widget.get_by_role("radio", name=re.compile("Bacs"))).to_be_checked()
        widget.get_by_role("button", name="Proceed").click()
        expect(widget.get_by_role("heading", name="Payment created")).to_be_visible()
        crm.screenshot(path=_artifact("03-standard-user-collects.png"))
    except Exception:
        for index, open_page in enumerate(context.pages):
            open_page.screenshot(path=_artifact(f"FAILED-two-users-{index}.png"))
        raise
    finally:
        context.close()


def _artifact(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / name)
