"""The whole journey in Debian's chromium against the real service and both simulators.

The demo runs as a subprocess (SQLite, service, simulators); after both authorizations and
Sync Now, a person's clicks on the simulated CRM's Invoice page drive our widget: choose the
mandate, Proceed, see the status; cancel it; and send a setup link where there is no mandate.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect, sync_playwright

from tests.demo.html import parse
from tests.demo.test_demo_smoke import RunningDemo, _approve, _href, _text, demo  # noqa: F401

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "demo"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing (apt-get install -y chromium)", pytrace=False)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def connect_and_sync(demo: RunningDemo, client: httpx.Client) -> dict[str, str]:  # noqa: F811
    start = client.get(demo.url)
    page = parse(start.text)
    user_id = _text(page, "admin-user-id")
    split = urlsplit(_href(page, "crm-invoices"))
    assert (
        _approve(client, _href(page, "authorize-zoho"), ("account", f":{user_id}")).status_code
        == 200
    )
    assert (
        _approve(client, _href(page, "authorize-gocardless"), ("organisation_id", "OR")).status_code
        == 200
    )
    service = f"{urlsplit(demo.url).scheme}://{urlsplit(demo.url).netloc}"
    headers = {"Authorization": f"Bearer {_text(page, 'api-key')}", "X-Zoho-User-Id": user_id}
    assert client.post(f"{service}/api/v1/installation/sync", headers=headers).status_code == 202
    for _ in range(150):
        sync = client.get(f"{service}/api/v1/installation/sync", headers=headers).json()
        if sync["state"] != "running":
            break
        time.sleep(0.2)
    assert sync["state"] == "succeeded", (sync, demo.output())
    return {
        "service": service,
        "zoho": f"{split.scheme}://{split.netloc}",
        "user_id": user_id,
        "org_id": _text(page, "zoho-org-id"),
        "api_key": _text(page, "api-key"),
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


def test_send_invoice_cancel_and_setup_link_in_the_browser(
    demo: RunningDemo,  # noqa: F811
    browser: Browser,
) -> None:
    client = httpx.Client(timeout=10.0)
    env = connect_and_sync(demo, client)
    context = browser.new_context(viewport={"width": 900, "height": 900}, locale="en-GB")
    context.set_default_timeout(10000)
    page = context.new_page()
    try:
        # Jane Doe's GBP invoice: her Bacs mandate is listed; Proceed collects the total.
        jane = invoice_page(client, env["zoho"], "Website redesign", env["user_id"])
        widget = open_widget(page, jane, "Send Invoice - GoCardless")
        expect(widget.get_by_role("radio", name=re.compile("Bacs"))).to_be_checked()
        widget.get_by_role("button", name="Proceed").click()
        expect(widget.get_by_role("heading", name="Payment created")).to_be_visible()
        expect(widget.locator(".result .badge")).to_have_text(
            "Scheduled — not yet sent to the bank"
        )
        expect(widget.locator(".result")).to_contain_text("£120.00")
        page.screenshot(path=_artifact("01-payment-created.png"))

        # The CRM's GoCardless Payments module has it at once, linked to the invoice.
        payments = client.get(
            f"{env['zoho']}/_sim/orgs/{env['org_id']}/modules/GoCardless_Payments/records",
            params={"limit": 1000},
        ).json()["data"]
        created = [p for p in payments if p.get("Invoice")]
        assert len(created) == 1 and created[0]["Status"] == "pending_submission"

        # Cancel Payment - GoCardless, with its confirmation.
        widget = open_widget(page, jane, "Cancel Payment - GoCardless")
        widget.get_by_role("button", name="Cancel payment…").click()
        widget.get_by_role("button", name="Yes, cancel it").click()
        expect(widget.locator(".result .badge").first).to_have_text(
            "Cancelled — nothing will be collected"
        )
        page.screenshot(path=_artifact("02-payment-cancelled.png"))

        # Pat Shared has no mandate: the setup link is emailed through the CRM.
        pat = invoice_page(client, env["zoho"], "Shared services", env["user_id"])
        widget = open_widget(page, pat, "Send Invoice - GoCardless")
        widget.get_by_role("button", name="Send setup link (GBP)").click()
        expect(widget.locator("#setup-sent")).to_have_text(
            "Setup link emailed to shared.inbox@example.com."
        )
        page.screenshot(path=_artifact("03-setup-link-sent.png"))
        mails = client.get(
            f"{env['zoho']}/_sim/outbox.json", params={"to": "shared.inbox@example.com"}
        ).json()
        assert len(mails) == 1 and "Set up a Direct Debit" in str(mails[0])
    except Exception:
        page.screenshot(path=_artifact("FAILED-journey.png"))
        raise
    finally:
        context.close()


def _artifact(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / name)
