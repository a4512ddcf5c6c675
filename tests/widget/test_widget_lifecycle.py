"""After collection: Retry on a failed payment, collecting a charged-back invoice again only
after a confirmation that says why, and refunding all or part of a collected payment."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.widget.data import (
    MANDATES_PATH,
    PAYMENTS_PATH,
    Snapshot,
    invoice_url,
    mandate,
    overview,
    payment,
)
from tests.widget.fake_api import FakeApi, ok

pytestmark = pytest.mark.browser

RETRY_PATH = "/api/v1/payments/PM0001XYZ/retry"
FAILED = payment(
    status="failed",
    standing="retryable",
    standing_reason="the payment failed (insufficient funds); "
    "it can be retried on the same mandate",
)


def test_a_retryable_failure_offers_retry_and_no_new_payment(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")], [FAILED])))
    api.on("POST", RETRY_PATH, ok({"payment": payment(status="pending_submission")}))
    page.goto(invoice_url(widget_url))

    expect(page.get_by_role("status")).to_have_text("The payment failed and can be retried.")
    expect(page.locator(".payment .standing")).to_have_text(
        "The payment failed (insufficient funds); it can be retried on the same mandate."
    )
    # A second payment could be debited alongside the retry: no mandate list, no Proceed.
    expect(page.locator("form.mandates")).to_have_count(0)
    snapshot("20-retryable")
    page.get_by_role("button", name="Retry payment").click()

    expect(page.get_by_role("heading", name="Payment retried")).to_be_focused()
    expect(page.locator(".result .badge")).to_have_text("Scheduled — not yet sent to the bank")
    assert len(api.calls("POST", RETRY_PATH)) == 1
    assert api.calls("POST", PAYMENTS_PATH) == []


def test_a_pending_automatic_retry_offers_nothing_to_press(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    pending = payment(
        status="failed",
        standing="retry_pending",
        standing_reason="the payment failed (insufficient funds) and GoCardless will retry it "
        "automatically",
    )
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")], [pending])))
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("status")).to_have_text(
        "The payment failed; GoCardless may still collect it."
    )
    expect(page.locator(".payment .standing")).to_contain_text("will retry it automatically")
    expect(page.get_by_role("button")).to_have_count(0)


def test_a_failure_that_cannot_be_retried_lets_the_invoice_be_collected_again(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    over = payment(status="failed", standing="over", standing_reason="retried 3 times")
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")], [over])))
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("button", name="Proceed")).to_be_visible()
    expect(page.get_by_role("heading", name="Earlier payments")).to_be_visible()
    expect(page.get_by_role("button", name="Retry payment")).to_have_count(0)


def test_collecting_a_charged_back_invoice_again_needs_a_confirmation_saying_why(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    charged_back = payment(
        status="charged_back", standing_reason="the customer charged this payment back"
    )
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")], [charged_back])))
    api.on("POST", PAYMENTS_PATH, ok({"payment": payment("PM0002NEW")}, status=201))
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("status")).to_have_text("The payment was charged back.")
    expect(page.locator("form.mandates")).to_have_count(0)
    again = page.get_by_role("button", name="Collect again…")
    dialog = page.get_by_role("dialog", name="Collect this invoice again?")

    again.click()
    expect(dialog).to_contain_text("customer disputed the Direct Debit (a charge-back)")
    expect(dialog).to_contain_text("£120.50")
    snapshot("21-confirm-recollect")
    page.get_by_role("button", name="No, leave it").click()
    expect(again).to_be_focused()
    expect(page.locator("form.mandates")).to_have_count(0)

    again.click()
    page.get_by_role("button", name="Yes, collect again").click()
    expect(page.get_by_role("radio", name="Bacs (UK) · GBP")).to_be_focused()
    page.get_by_role("button", name="Collect again", exact=True).click()
    expect(page.get_by_role("heading", name="Payment created")).to_be_focused()
    (sent,) = api.calls("POST", PAYMENTS_PATH)
    assert sent.body == {"mandate_id": "MD0001AAAA", "recollect_charged_back": True}


def test_each_mandate_says_whose_bank_account_it_collects_from(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    jane = mandate("MD0001AAAA") | {
        "payer": {
            "name": "Jane Doe",
            "bank_name": "BARCLAYS BANK PLC",
            "account_number_ending": "11",
            "account_holder_name": "JANE DOE",
        }
    }
    acme = mandate("MD0002BBBB") | {
        "payer": {
            "name": "Acme Ltd",
            "bank_name": "HSBC UK BANK PLC",
            "account_number_ending": "42",
            "account_holder_name": "ACME LTD",
        }
    }
    api.on("GET", MANDATES_PATH, ok(overview([jane, acme])))
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("radio", name="Jane Doe · BARCLAYS BANK PLC ····11")).to_be_visible()
    expect(page.get_by_role("radio", name="Acme Ltd · HSBC UK BANK PLC ····42")).to_be_visible()
    snapshot("22-payers")


def test_with_no_mandate_in_the_invoices_currency_the_setup_link_is_offered_for_it(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    gbp_only = mandate("MD0001AAAA") | {"usable": False}
    body = overview([gbp_only])
    body["invoice"]["currency"] = "EUR"
    api.on("GET", MANDATES_PATH, ok(body))
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("heading", name="No mandate in EUR yet")).to_be_visible()
    expect(page.locator(".notice")).to_contain_text("has no Direct Debit mandate in EUR")
    expect(page.get_by_role("button", name="Send setup link")).to_be_visible()


REFUND_PATH = "/api/v1/payments/PM0001XYZ/refunds"


def test_a_collected_payment_can_be_refunded_in_part(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    collected = payment(status="paid_out") | {"amount_refunded": 2050}
    after = payment(status="paid_out") | {"amount_refunded": 4550}
    mandates = [mandate("MD0001AAAA")]
    api.on(
        "GET",
        MANDATES_PATH,
        ok(overview(mandates, [collected])),
        ok(overview(mandates, [after])),
    )
    api.on(
        "POST",
        REFUND_PATH,
        ok({"refund": {"id": "RF0001", "amount": 2500, "status": "pending_submission"}}, 201),
    )
    page.goto(invoice_url(widget_url))
    expect(page.locator(".payment")).to_contain_text("£20.50")  # refunded already
    refund = page.get_by_role("button", name="Refund…")
    dialog = page.get_by_role("dialog", name="Refund this payment?")
    amount = page.get_by_label("Amount to refund (GBP)")

    refund.click()
    expect(dialog).to_contain_text("£100.00 of the £120.50 collected can be given back")
    expect(amount).to_have_value("100.00")
    page.get_by_role("button", name="Keep the money").click()
    expect(refund).to_be_focused()
    assert api.calls("POST", REFUND_PATH) == []

    # More than is left, or not an amount: said in the dialog, nothing sent.
    refund.click()
    for typed, said in (("100.01", "At most £100.00 is left to refund."), ("1.234", "Enter an")):
        amount.fill(typed)
        page.get_by_role("button", name="Refund", exact=True).click()
        expect(page.locator("#refund-error")).to_contain_text(said)
        expect(amount).to_be_focused()
    assert api.calls("POST", REFUND_PATH) == []
    amount.fill("25")
    snapshot("23-refund")
    page.get_by_role("button", name="Refund", exact=True).click()

    expect(page.get_by_role("status")).to_have_text(
        "Refund of £25.00 made: GoCardless sends it to the customer."
    )
    (sent,) = api.calls("POST", REFUND_PATH)
    assert sent.body == {"amount": 2500}
    expect(page.locator(".payment")).to_contain_text("£45.50")


def test_nothing_left_to_refund_offers_no_refund(page: Page, api: FakeApi, widget_url: str) -> None:
    refunded = payment(status="confirmed") | {"amount_refunded": 12050}
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")], [refunded])))
    page.goto(invoice_url(widget_url))
    expect(page.locator(".payment")).to_contain_text("Refunded")
    expect(page.get_by_role("button", name="Refund…")).to_have_count(0)
