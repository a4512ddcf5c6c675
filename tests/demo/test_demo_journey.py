"""The demo as a new user walks it, in Debian's chromium: every seeded story, asserting what a
person sees, with a screenshot of each step.

The screenshots in `docs/screenshots/` (shown in the README) are this test's: run
`scripts/screenshots` (this test with GZ_UPDATE_SCREENSHOTS=1) to take them again. Otherwise
they go to `test-artifacts/journey/`, so a test run leaves the repository as it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Page, expect

from tests.demo.browser import browser  # noqa: F401
from tests.demo.test_demo_smoke import RunningDemo, demo  # noqa: F401

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
UPDATE = os.environ.get("GZ_UPDATE_SCREENSHOTS") == "1"
SHOTS_DIR = DOCS_SCREENSHOTS if UPDATE else ROOT / "test-artifacts" / "journey"
# Every screenshot the journey takes, in order; the README shows each of them.
JOURNEY = (
    "01-start-page",
    "02-settings-not-connected",
    "03-zoho-consent",
    "04-gocardless-consent",
    "05-settings-synced",
    "06-crm-invoices",
    "07-bacs-payment-created",
    "08-currency-mismatch",
    "09-sepa-payment-created",
    "10-setup-link-sent",
    "11-outbox",
    "12-setup-form",
    "13-new-mandate",
    "14-no-email",
    "15-no-contact",
    "16-payment-cancelled",
    "17-earlier-payments",
    "18-crm-payments",
    "19-crm-payment-record",
)
WIDE = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000


class Shots:
    def __init__(self) -> None:
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        self.taken: list[str] = []

    def take(self, page: Page, name: str, *, full_page: bool = False) -> None:
        assert name in JOURNEY, f"{name} is not in JOURNEY"
        page.screenshot(path=str(SHOTS_DIR / f"{name}.png"), full_page=full_page)
        self.taken.append(name)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:  # noqa: F811
    context = browser.new_context(viewport=WIDE, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


def _new_tab(page: Page, link_name: str) -> Page:
    with page.context.expect_page() as opened:
        page.get_by_role("link", name=link_name).click()
    tab = opened.value
    tab.wait_for_load_state()
    return tab


def _no_horizontal_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"


def _open_invoice(crm: Page, subject: str, button: str) -> FrameLocator:
    crm.goto(crm.url.split("/_sim/")[0] + "/_sim/crm")
    crm.get_by_role("row").filter(has_text=subject).get_by_role("link").first.click()
    crm.get_by_role("button", name=button).click()
    return crm.frame_locator("iframe#widget")


def _sign_in(page: Page, where: Page | FrameLocator, account: str) -> None:
    """The widget's Sign in with Zoho: the simulator's consent in a popup, as this account."""
    with page.expect_popup() as opened:
        where.get_by_role("button", name="Sign in with Zoho").click()
    consent = opened.value
    consent.get_by_role("combobox").select_option(value=account)
    # Our sign-in page hands the session to the widget and closes itself.
    with consent.expect_event("close"):
        consent.get_by_role("button", name="Accept").click()


def _invoice_number(crm: Page, subject: str) -> str:
    row = crm.get_by_role("row").filter(has_text=subject)
    return row.get_by_role("link").first.inner_text().strip()


def test_a_new_user_walks_every_seeded_story(
    demo: RunningDemo,  # noqa: F811
    context: BrowserContext,
) -> None:
    shots = Shots()
    start = context.new_page()
    try:
        _walk(demo, start, shots)
    except Exception:
        for index, tab in enumerate(context.pages):
            tab.screenshot(path=str(ROOT / "test-artifacts" / f"journey-FAILED-{index}.png"))
        raise
    assert shots.taken == list(JOURNEY)
    # The README shows exactly the screenshots this journey takes.
    shown = re.findall(r"docs/screenshots/([\w-]+)\.png", (ROOT / "README.md").read_text())
    assert shown == list(JOURNEY)


def _walk(demo: RunningDemo, start: Page, shots: Shots) -> None:  # noqa: F811
    service = f"{urlsplit(demo.url).scheme}://{urlsplit(demo.url).netloc}"
    # The first address a person types leads to the start page.
    start.goto(f"{service}/")
    expect(start).to_have_url(demo.url)
    expect(
        start.get_by_role("heading", name="GoCardless for Zoho CRM: offline demo")
    ).to_be_visible()
    shots.take(start, "01-start-page", full_page=True)

    # 1. Settings: the administrator signs in with Zoho, then authorizes both accounts in
    # other tabs; the page notices by itself.
    # The CRM administrator of the seeded org, as the start page names them.
    org, admin = (start.locator(f"#{key}").inner_text() for key in ("zoho-org-id", "admin-user-id"))
    settings = _new_tab(start, "Settings")
    _sign_in(settings, settings, f"{org}:{admin}")
    zoho_card = settings.locator("[aria-labelledby=zoho-title]")
    gocardless_card = settings.locator("[aria-labelledby=gocardless-title]")
    expect(zoho_card.locator(".badge")).to_have_text("Not connected")
    expect(gocardless_card.locator(".badge")).to_have_text("Not connected")
    shots.take(settings, "02-settings-not-connected")

    consent = _new_tab(settings, "Authorize Zoho CRM")
    expect(
        consent.get_by_role("heading", name="Authorize GoCardless for Zoho CRM (demo)")
    ).to_be_visible()
    consent.get_by_role("combobox").select_option(value=f"{org}:{admin}")
    shots.take(consent, "03-zoho-consent")
    consent.get_by_role("button", name="Accept").click()
    expect(consent.get_by_role("heading", name="Zoho CRM connected")).to_be_visible()
    consent.close()
    expect(zoho_card.locator(".badge")).to_have_text("Connected")

    consent = _new_tab(settings, "Authorize GoCardless")
    expect(consent.get_by_role("heading", name="Connect to GoCardless")).to_be_visible()
    expect(consent.get_by_text("GoCardless for Zoho CRM (demo)").first).to_be_visible()
    shots.take(consent, "04-gocardless-consent")
    consent.get_by_role("button", name="Approve").click()
    expect(consent.get_by_role("heading", name="GoCardless connected")).to_be_visible()
    consent.close()
    expect(gocardless_card.locator(".badge")).to_have_text("Connected")

    settings.get_by_role("button", name="Sync Now").click()
    sync = settings.locator("#sync")
    expect(sync.locator(".badge")).to_have_text("Finished", timeout=60_000)
    expect(sync.locator(".sync-counts")).to_contain_text("100% — ")
    shots.take(settings, "05-settings-synced")
    settings.close()

    # 2. The CRM's invoices, each story through the extension's buttons.
    crm = _new_tab(start, "CRM invoices")
    expect(crm.get_by_role("heading", name="Invoices")).to_be_visible()
    _no_horizontal_scroll(crm)
    shots.take(crm, "06-crm-invoices")
    bacs_number = _invoice_number(crm, "Website redesign")
    sepa_number = _invoice_number(crm, "Consulting March")

    # Jane Doe, GBP: her Bacs mandate is chosen; Proceed collects £120.00. The widget asks
    # once in this window who is signed in.
    widget = _open_invoice(crm, "Website redesign", "Send Invoice - GoCardless")
    _sign_in(crm, widget, f"{org}:{admin}")
    expect(widget.get_by_role("radio", name=re.compile("Bacs"))).to_be_checked()
    widget.get_by_role("button", name="Proceed").click()
    expect(widget.get_by_role("heading", name="Payment created")).to_be_visible()
    expect(widget.locator(".result")).to_contain_text("£120.00")
    expect(widget.locator(".result .badge")).to_have_text("Scheduled — not yet sent to the bank")
    shots.take(crm, "07-bacs-payment-created", full_page=True)

    # Jane Doe, EUR: the mismatch shows before any click, with a setup link in EUR.
    widget = _open_invoice(crm, "Annual licence", "Send Invoice - GoCardless")
    expect(widget.get_by_role("heading", name="No mandate in EUR yet")).to_be_visible()
    expect(widget.get_by_role("radio", name=re.compile("Bacs"))).to_be_disabled()
    expect(widget.locator("label.mandate.unusable")).to_contain_text(
        "Collects GBP only — this invoice is in EUR"
    )
    expect(widget.get_by_role("button", name="Proceed")).to_have_count(0)
    expect(widget.get_by_role("button", name="Send setup link (EUR)")).to_be_enabled()
    shots.take(crm, "08-currency-mismatch", full_page=True)

    # John Smith, EUR: his SEPA mandate collects €250.50.
    widget = _open_invoice(crm, "Consulting March", "Send Invoice - GoCardless")
    expect(widget.get_by_role("radio", name=re.compile("SEPA"))).to_be_checked()
    widget.get_by_role("button", name="Proceed").click()
    expect(widget.get_by_role("heading", name="Payment created")).to_be_visible()
    expect(widget.locator(".result")).to_contain_text("€250.50")
    shots.take(crm, "09-sepa-payment-created", full_page=True)

    # Pat Shared: no mandate, so the setup link is emailed through the CRM.
    widget = _open_invoice(crm, "Shared services", "Send Invoice - GoCardless")
    widget.get_by_role("button", name="Send setup link (GBP)").click()
    expect(widget.locator("#setup-sent")).to_have_text(
        "Setup link emailed to shared.inbox@example.com."
    )
    shots.take(crm, "10-setup-link-sent", full_page=True)
    setup_url = widget.get_by_role("link", name="Open the setup page").get_attribute("href")
    assert setup_url

    outbox = crm.context.new_page()
    outbox.goto(crm.url.split("/_sim/")[0] + "/_sim/outbox")
    mail = outbox.locator("article.mail").first
    expect(mail).to_contain_text("shared.inbox@example.com")
    body = mail.frame_locator("iframe")
    expect(body.get_by_text("£300.00")).to_be_visible()
    expect(body.get_by_role("link", name="Set up your Direct Debit")).to_be_visible()
    _no_horizontal_scroll(outbox)
    shots.take(outbox, "11-outbox")

    # The customer completes GoCardless's page: only a GBP account is asked for.
    outbox.goto(setup_url)
    expect(outbox.get_by_label("Sort code")).to_be_visible()
    expect(outbox.get_by_label("IBAN")).to_have_count(0)
    if not outbox.get_by_label("Email").input_value():
        outbox.get_by_label("Email").fill("shared.inbox@example.com")
    outbox.get_by_label("Account holder name").fill("Pat Shared")
    outbox.get_by_label("Sort code").fill("200000")
    outbox.get_by_label("Account number").fill("55779911")
    shots.take(outbox, "12-setup-form", full_page=True)
    outbox.get_by_role("button", name="Set up Direct Debit").click()
    expect(outbox.get_by_role("heading", name=re.compile("Thank you"))).to_be_visible()
    outbox.close()

    # The new mandate appears in the same popup.
    new_mandate = widget.get_by_role("radio", name=re.compile("Bacs"))
    for _ in range(20):
        widget.get_by_role("button", name="Check again").click()
        try:
            expect(new_mandate).to_be_checked(timeout=1000)
            break
        except AssertionError:
            continue
    expect(new_mandate).to_be_checked()
    expect(widget.get_by_role("button", name="Proceed")).to_be_enabled()
    shots.take(crm, "13-new-mandate", full_page=True)

    # Nora Noemail: the setup link is disabled up front, saying why.
    widget = _open_invoice(crm, "Support plan", "Send Invoice - GoCardless")
    expect(widget.get_by_role("button", name="Send setup link (GBP)")).to_be_disabled()
    expect(widget.locator("#no-email")).to_contain_text(
        "Nora Noemail has no email address in the CRM, so a setup link cannot be sent."
    )
    shots.take(crm, "14-no-email", full_page=True)

    # An invoice without a contact: a sentence with the next step.
    widget = _open_invoice(crm, "Orphan invoice", "Send Invoice - GoCardless")
    alert = widget.get_by_role("alert")
    expect(alert.get_by_role("heading", name="This invoice has no contact")).to_be_visible()
    expect(alert).to_contain_text("Choose a contact on the invoice, save it")
    shots.take(crm, "15-no-contact", full_page=True)

    # Cancel Jane's payment; opening Send again lists it under Earlier payments, in view.
    widget = _open_invoice(crm, "Website redesign", "Cancel Payment - GoCardless")
    widget.get_by_role("button", name="Cancel payment…").click()
    widget.get_by_role("button", name="Yes, cancel it").click()
    expect(widget.locator(".result .badge").first).to_have_text(
        "Cancelled — nothing will be collected"
    )
    shots.take(crm, "16-payment-cancelled", full_page=True)
    widget = _open_invoice(crm, "Website redesign", "Send Invoice - GoCardless")
    earlier = widget.get_by_role("heading", name="Earlier payments")
    expect(earlier).to_be_visible()
    # The frame grew to its content: everything is on the CRM page, nothing cut off inside.
    frame = crm.locator("iframe#widget")
    expect(frame).not_to_have_attribute("style", re.compile(r"height:\s*32rem"))
    frame_height = (frame.bounding_box() or {"height": 0})["height"]
    content_height = widget.locator("body").evaluate("b => b.getBoundingClientRect().height")
    assert frame_height >= min(content_height, WIDE["height"] * 0.85) - 2
    shots.take(crm, "17-earlier-payments", full_page=True)

    # What the CRM holds: invoice payments are named by their invoice number, Bacs and SEPA.
    crm.get_by_role("link", name="GoCardless Payments").first.click()
    expect(crm.get_by_role("heading", name="GoCardless Payments")).to_be_visible()
    for number in (bacs_number, sepa_number):
        expect(crm.get_by_role("link", name=number, exact=True)).to_be_visible()
    _no_horizontal_scroll(crm)
    shots.take(crm, "18-crm-payments")
    crm.get_by_role("link", name=sepa_number, exact=True).click()
    record = crm.locator("table.record")
    expect(record.get_by_role("link", name="John Smith")).to_be_visible()  # Customer lookup
    expect(record.get_by_role("link", name="Consulting March")).to_be_visible()  # Invoice lookup
    shots.take(crm, "19-crm-payment-record", full_page=True)
    # Every server has an icon, so no tab shows a broken one.
    for base in (service, crm.url.split("/_sim/")[0]):
        assert httpx.get(f"{base}/favicon.ico", timeout=5.0).status_code == 200
