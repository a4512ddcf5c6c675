"""The invoice popup: pick a mandate and Proceed, the setup-link path, confirmed cancels."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.widget.data import (
    MANDATE_REQUESTS_PATH,
    MANDATES_PATH,
    PAYMENTS_PATH,
    SESSION_TOKEN,
    Snapshot,
    invoice_url,
    mandate,
    overview,
    payment,
)
from tests.widget.fake_api import FakeApi, Hold, ok

pytestmark = pytest.mark.browser

CANCEL_PATH = "/api/v1/payments/PM0001XYZ/cancel"
# Two can collect the GBP invoice; a cancelled one and a EUR one cannot.
TWO_MANDATES = [
    mandate("MD0001AAAA"),
    mandate("MD0002BBBB"),
    mandate("MD0003CCCC", status="cancelled"),
    mandate("MD0004DDDD", scheme="sepa_core", currency="EUR"),
]


def test_choosing_a_mandate_and_proceeding_shows_the_payment(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview(TWO_MANDATES)))
    api.on("POST", PAYMENTS_PATH, ok({"payment": payment("PM0001XYZ")}, status=201))
    page.goto(invoice_url(widget_url))

    expect(page.get_by_role("heading", name="Invoice INV-00042")).to_be_visible()
    expect(page.get_by_text("£120.50")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Choose a mandate, then Proceed.")
    expect(page.get_by_role("radio", name="Cancelled — cannot take payments")).to_be_disabled()
    # The EUR mandate is shown, but cannot be chosen for a GBP invoice: said before Proceed.
    other_currency = page.get_by_role("radio", name="SEPA Core · EUR")
    expect(other_currency).to_be_disabled()
    expect(page.locator("label.mandate.unusable", has=other_currency)).to_contain_text(
        "Collects EUR only — this invoice is in GBP"
    )
    snapshot("01-mandates")
    page.get_by_role("radio", name="Bacs (UK) · GBP Ref. REF-BBBB").check()
    page.get_by_role("button", name="Proceed").click()

    expect(page.get_by_role("heading", name="Payment created")).to_be_focused()
    # Focus lands on the news for screen readers, without a box drawn around a heading.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "none"
    expect(page.locator(".result .badge")).to_have_text("Scheduled — not yet sent to the bank")
    expect(page.locator(".result")).to_contain_text("£120.50")
    expect(page.locator(".result")).to_contain_text("7 Dec 2026")
    expect(page.get_by_role("status")).to_have_text(
        "Payment created: Scheduled — not yet sent to the bank."
    )
    snapshot("02-payment-created")
    (sent,) = api.calls("POST", PAYMENTS_PATH)
    assert sent.body == {"mandate_id": "MD0002BBBB"}
    assert sent.headers["authorization"] == f"Bearer {SESSION_TOKEN}"
    assert "x-zoho-user-id" not in sent.headers
    assert sent.url.startswith(widget_url.removesuffix("/widget"))  # same origin by default

    # Outside Zoho, Done goes back to the invoice, which now shows its payment.
    api.on("GET", MANDATES_PATH, ok(overview(TWO_MANDATES, [payment("PM0001XYZ")])))
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_text("This invoice already has a GoCardless payment")).to_be_visible()
    expect(page.locator("form.mandates")).to_have_count(0)


def test_a_double_click_on_proceed_sends_one_payment(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    api.on("POST", PAYMENTS_PATH, Hold())
    page.goto(invoice_url(widget_url))
    proceed = page.get_by_role("button", name="Proceed")
    # The only usable mandate is chosen already.
    expect(page.get_by_role("radio", name="Bacs (UK) · GBP")).to_be_checked()

    proceed.dblclick()
    expect(proceed).to_be_disabled()
    expect(page.locator("#spinner")).to_be_visible()
    expect(page.get_by_role("main")).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("status")).to_have_text("Creating the payment…")
    snapshot("03-busy")
    page.evaluate("document.querySelector('form.mandates button').click()")
    page.keyboard.press("Enter")
    assert len(api.calls("POST", PAYMENTS_PATH)) == 1

    api.release(ok({"payment": payment()}, status=201))
    expect(page.get_by_role("heading", name="Payment created")).to_be_visible()
    expect(page.locator("#spinner")).to_be_hidden()
    assert len(api.calls("POST", PAYMENTS_PATH)) == 1


def test_an_existing_live_payment_is_shown_not_duplicated(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    api.on("POST", PAYMENTS_PATH, ok({"payment": payment(status="submitted")}, status=200))
    page.goto(invoice_url(widget_url))
    page.get_by_role("button", name="Proceed").click()
    expect(page.get_by_role("heading", name="This invoice already had a payment")).to_be_visible()
    expect(page.locator(".result .badge")).to_have_text("Submitted to the customer's bank")


def test_without_a_usable_mandate_a_setup_link_is_emailed_then_check_again_finds_the_mandate(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on(
        "GET",
        MANDATES_PATH,
        ok(overview([mandate("MD0009ZZZZ", status="expired")])),
        ok(overview([mandate("MD0009ZZZZ", status="expired"), mandate("MD0010NEWW")])),
    )
    api.on(
        "POST",
        MANDATE_REQUESTS_PATH,
        ok(
            {
                "mandate_request": {
                    "id": "BRQ0001",
                    "authorisation_url": "https://pay-sandbox.gocardless.com/billing/static/flow?id=BRF1",
                    "email_sent_to": "jane@example.com",
                    "status": "pending",
                    "expires_at": "2026-12-13T09:00:00.000Z",
                }
            },
            status=201,
        ),
    )
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("heading", name="No mandate in GBP yet")).to_be_visible()
    expect(page.get_by_role("button", name="Proceed")).to_have_count(0)
    expect(page.get_by_text("Expired — cannot take payments")).to_be_visible()
    snapshot("04-no-mandate")

    page.get_by_role("button", name="Send setup link (GBP)").click()
    expect(page.locator("#setup-sent")).to_have_text("Setup link emailed to jane@example.com.")
    expect(page.locator("#setup-expires")).to_contain_text("The link works until")
    expect(page.locator("#setup-expires")).to_contain_text("2026")
    expect(page.get_by_role("status")).to_have_text("Setup link emailed to jane@example.com.")
    expect(page.get_by_role("link", name="Open the setup page")).to_have_attribute(
        "href", "https://pay-sandbox.gocardless.com/billing/static/flow?id=BRF1"
    )
    expect(page.get_by_role("button", name="Send setup link (GBP)")).to_have_count(0)
    snapshot("05-setup-link-sent")
    assert len(api.calls("POST", MANDATE_REQUESTS_PATH)) == 1

    page.get_by_role("button", name="Check again").click()
    new_mandate = page.get_by_role("radio", name="Bacs (UK) · GBP Ref. REF-NEWW · Active")
    expect(new_mandate).to_be_checked()
    expect(new_mandate).to_be_focused()
    expect(page.get_by_role("button", name="Proceed")).to_be_enabled()
    assert len(api.calls("GET", MANDATES_PATH)) == 2


def test_cancel_asks_for_confirmation_and_escape_or_no_keeps_the_payment(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")], [payment()])))
    api.on("POST", CANCEL_PATH, ok({"payment": payment(status="cancelled")}))
    page.goto(invoice_url(widget_url))
    cancel = page.get_by_role("button", name="Cancel payment…")
    dialog = page.get_by_role("dialog", name="Cancel this payment?")

    cancel.click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Cancel the payment of £120.50?")
    expect(page.get_by_role("button", name="No, keep it")).to_be_focused()
    snapshot("06-confirm-cancel")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(cancel).to_be_focused()

    cancel.click()
    page.get_by_role("button", name="No, keep it").click()
    expect(dialog).to_be_hidden()
    assert api.calls("POST", CANCEL_PATH) == []

    cancel.click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("heading", name="Payment cancelled")).to_be_focused()
    expect(page.locator(".result .badge")).to_have_text("Cancelled — nothing will be collected")
    snapshot("07-cancelled")
    assert len(api.calls("POST", CANCEL_PATH)) == 1


def test_cancel_is_offered_only_before_submission(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    statuses = ["pending_customer_approval", "submitted", "confirmed", "paid_out", "failed"]
    payments = [payment(f"PM{n:04d}", status=status) for n, status in enumerate(statuses)]
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")], payments)))
    page.goto(invoice_url(widget_url, mode="cancel"))
    expect(page.locator(".payment")).to_have_count(len(statuses))
    expect(page.get_by_role("status")).to_have_text("No payment can be cancelled now.")
    expect(page.get_by_role("button", name="Cancel payment…")).to_have_count(0)


STATUS_WORDS = {
    "pending_customer_approval": "Waiting for the customer to approve it",
    "pending_submission": "Scheduled — not yet sent to the bank",
    "submitted": "Submitted to the customer's bank",
    "confirmed": "Collected — confirmed by the bank",
    "paid_out": "Paid out to your bank account",
    "cancelled": "Cancelled — nothing will be collected",
    "customer_approval_denied": "The customer refused to approve it",
    "failed": "Failed — the bank could not collect it",
    "charged_back": "Charged back — the customer's bank returned the money",
}


def test_every_payment_status_reads_in_words(page: Page, api: FakeApi, widget_url: str) -> None:
    payments = [payment(f"PM{status}", status=status) for status in STATUS_WORDS]
    api.on("GET", MANDATES_PATH, ok(overview([], payments)))
    page.goto(invoice_url(widget_url, mode="cancel"))
    for status, words in STATUS_WORDS.items():
        expect(page.locator(f".payment[data-status={status}] .badge")).to_have_text(words)


def test_cancel_mode_goes_straight_to_the_payment_and_its_cancel_action(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on(
        "GET",
        MANDATES_PATH,
        ok(overview([mandate("MD0001AAAA")], [payment("PM0000OLD", status="failed"), payment()])),
    )
    page.goto(invoice_url(widget_url, mode="cancel"))
    expect(page.get_by_role("heading", name="Payments")).to_be_visible()
    expect(page.locator("form.mandates")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel payment…")).to_have_count(1)
    expect(page.get_by_role("button", name="Cancel payment…")).to_be_focused()
    expect(page.get_by_role("status")).to_have_text("This payment can be cancelled.")
    snapshot("08-cancel-mode")
    page.keyboard.press("Space")
    expect(page.get_by_role("dialog", name="Cancel this payment?")).to_be_visible()


def test_cancel_mode_without_a_payment_says_so(page: Page, api: FakeApi, widget_url: str) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    # The CRM simulator's buttons name the mode this way.
    page.goto(invoice_url(widget_url, action="cancel_payment"))
    expect(
        page.get_by_text("This invoice has no GoCardless payment to cancel.").first
    ).to_be_visible()


def test_keyboard_alone_chooses_a_mandate_and_proceeds(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview(TWO_MANDATES)))
    api.on("POST", PAYMENTS_PATH, ok({"payment": payment()}, status=201))
    page.goto(invoice_url(widget_url))
    expect(page.locator("form.mandates")).to_be_visible()

    page.keyboard.press("Tab")
    first = page.get_by_role("radio", name="Bacs (UK) · GBP Ref. REF-AAAA")
    expect(first).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused control must show where focus is"
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("radio", name="Bacs (UK) · GBP Ref. REF-BBBB")).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Proceed")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Payment created")).to_be_focused()
    assert api.calls("POST", PAYMENTS_PATH)[0].body == {"mandate_id": "MD0002BBBB"}
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Done")).to_be_focused()


def test_proceed_without_a_choice_asks_for_one(page: Page, api: FakeApi, widget_url: str) -> None:
    api.on("GET", MANDATES_PATH, ok(overview(TWO_MANDATES)))
    page.goto(invoice_url(widget_url))
    page.get_by_role("button", name="Proceed").click()
    expect(page.get_by_text("Choose a mandate first.")).to_be_visible()
    expect(page.get_by_role("radio", name="Bacs (UK) · GBP Ref. REF-AAAA")).to_be_focused()
    assert api.calls("POST", PAYMENTS_PATH) == []


def test_the_widget_folder_opens_the_popup_with_its_query_and_key(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    page.goto(invoice_url(widget_url).replace("/app/widget.html", "/"))
    expect(page.get_by_role("button", name="Proceed")).to_be_visible()
    assert page.url == invoice_url(widget_url)
    assert api.requests[0].headers["authorization"] == f"Bearer {SESSION_TOKEN}"
