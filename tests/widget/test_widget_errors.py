"""Every error the service can give, in words, with the way forward it allows."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.widget.data import (
    MANDATE_REQUESTS_PATH,
    MANDATES_PATH,
    ORG_ID,
    PAYMENTS_PATH,
    Snapshot,
    invoice_url,
    mandate,
    overview,
    payment,
)
from tests.widget.fake_api import Abort, FakeApi, Reply, ok, problem

pytestmark = pytest.mark.browser

GC_AUTHORIZE = "http://service.test/oauth/gocardless/start?link=signed"
ZOHO_AUTHORIZE = "http://service.test/oauth/zoho/start?link=signed"


@pytest.mark.parametrize(
    ("reply", "heading", "detail"),
    [
        (
            problem(
                422,
                "currency_mismatch",
                "The invoice is in GBP but the mandate collects EUR (SEPA Core).",
            ),
            "This mandate collects another currency",
            "An invoice can only be collected from a mandate in its own currency. Email the "
            "customer a link to set up a mandate in the invoice's currency instead.",
        ),
        (
            problem(409, "mandate_not_usable", "Mandate MD0001AAAA is cancelled."),
            "This mandate can no longer collect payments",
            "It may have been cancelled or have expired. Choose another mandate, or email the "
            "customer a link to set up a new one.",
        ),
        (
            problem(404, "not_found", "No such mandate for this invoice's contact."),
            "Not found",
            "No such mandate for this invoice's contact.",
        ),
    ],
)
def test_a_refused_payment_is_explained_and_another_mandate_can_be_chosen(
    page: Page, api: FakeApi, widget_url: str, reply: Reply, heading: str, detail: str
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    api.on("POST", PAYMENTS_PATH, reply)
    page.goto(invoice_url(widget_url))
    page.get_by_role("button", name="Proceed").click()

    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading", name=heading)).to_be_visible()
    expect(alert.locator(".detail")).to_have_text(detail)
    expect(alert.get_by_role("button", name="Try again")).to_have_count(0)
    expect(alert.get_by_role("heading", name=heading)).to_be_focused()
    # The choice stays on screen and usable.
    expect(page.get_by_role("button", name="Proceed")).to_be_enabled()
    expect(page.get_by_role("radio", name="Bacs (UK) · GBP")).to_be_enabled()


def test_gocardless_not_authorized_links_to_its_authorize_url(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    api.on(
        "POST",
        PAYMENTS_PATH,
        problem(
            409,
            "gocardless_not_authorized",
            "Authorize GoCardless first.",
            authorize_url=GC_AUTHORIZE,
        ),
    )
    page.goto(invoice_url(widget_url))
    page.get_by_role("button", name="Proceed").click()

    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading", name="GoCardless is not connected yet")).to_be_visible()
    expect(alert).to_contain_text("A CRM administrator needs to connect the GoCardless account")
    link = alert.get_by_role("link", name="Authorize GoCardless")
    expect(link).to_have_attribute("href", GC_AUTHORIZE)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_be_focused()
    snapshot("09-not-authorized")


def test_zoho_not_authorized_on_load_links_to_zoho(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on(
        "GET",
        MANDATES_PATH,
        problem(
            409, "zoho_not_authorized", "authorize Zoho CRM first", authorize_url=ZOHO_AUTHORIZE
        ),
    )
    page.goto(invoice_url(widget_url))
    link = page.get_by_role("alert").get_by_role("link", name="Authorize Zoho CRM")
    expect(link).to_have_attribute("href", ZOHO_AUTHORIZE)


def test_an_authorize_url_that_is_not_http_is_not_made_a_link(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on(
        "GET",
        MANDATES_PATH,
        problem(
            409,
            "gocardless_not_authorized",
            "Authorize GoCardless first.",
            authorize_url="javascript:alert(1)",
        ),
    )
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("alert")).to_contain_text("GoCardless is not connected yet")
    expect(page.get_by_role("link")).to_have_count(0)


def test_a_user_outside_the_audience_is_told_clearly(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on(
        "GET",
        MANDATES_PATH,
        problem(
            403,
            "user_not_in_audience",
            "This extension is installed for administrators only; ask a CRM administrator.",
        ),
    )
    page.goto(invoice_url(widget_url))
    alert = page.get_by_role("alert")
    expect(
        alert.get_by_role("heading", name="You are not allowed to use GoCardless for Zoho CRM")
    ).to_be_visible()
    expect(alert).to_contain_text("Ask them to add your profile.")
    expect(page.locator("form.mandates")).to_have_count(0)
    snapshot("10-not-in-audience")
    assert "x-zoho-user-id" not in api.requests[0].headers


def test_an_ended_session_asks_to_sign_in_again(page: Page, api: FakeApi, widget_url: str) -> None:
    api.on("GET", MANDATES_PATH, problem(401, "unauthenticated", "The session has expired."))
    page.goto(invoice_url(widget_url))
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading", name="Please sign in again")).to_be_visible()
    expect(alert).to_contain_text("The session has expired.")
    expect(alert).not_to_contain_text("API key")
    expect(alert.get_by_role("button", name="Sign in with Zoho")).to_be_focused()
    # The refused session is forgotten: the next page load asks for a sign-in at once.
    assert (
        page.evaluate("Object.keys(sessionStorage).filter(k => k.includes(location.origin))") == []
    )


def test_a_network_failure_offers_a_retry_that_loads_the_invoice(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on("GET", MANDATES_PATH, Abort(), ok(overview([mandate("MD0001AAAA")])))
    page.goto(invoice_url(widget_url))
    alert = page.get_by_role("alert")
    expect(
        alert.get_by_role("heading", name="Could not reach the GoCardless service")
    ).to_be_visible()
    retry = alert.get_by_role("button", name="Try again")
    expect(retry).to_be_focused()
    snapshot("11-network-failure")
    retry.click()
    expect(page.get_by_role("button", name="Proceed")).to_be_visible()
    expect(alert).to_be_hidden()


def test_a_payment_lost_to_the_network_is_retried_with_the_same_mandate(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    api.on("POST", PAYMENTS_PATH, Abort(), ok({"payment": payment()}, status=201))
    page.goto(invoice_url(widget_url))
    page.get_by_role("button", name="Proceed").click()
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("heading", name="Payment created")).to_be_visible()
    assert [call.body for call in api.calls("POST", PAYMENTS_PATH)] == [
        {"mandate_id": "MD0001AAAA"}
    ] * 2


def test_a_non_json_server_error_is_described_with_a_retry(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on("GET", MANDATES_PATH, Reply(502, "<html>Bad gateway</html>", "text/html"))
    page.goto(invoice_url(widget_url))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The service answered with an unexpected error (HTTP 502).")
    expect(alert.get_by_role("button", name="Try again")).to_be_visible()


def test_a_payment_that_can_no_longer_be_cancelled_says_why(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([], [payment()])))
    api.on(
        "POST",
        "/api/v1/payments/PM0001XYZ/cancel",
        problem(409, "payment_not_cancellable", "The payment is already submitted to the bank."),
    )
    page.goto(invoice_url(widget_url, mode="cancel"))
    page.get_by_role("button", name="Cancel payment…").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    alert = page.get_by_role("alert")
    expect(
        alert.get_by_role("heading", name="This payment can no longer be cancelled")
    ).to_be_visible()
    expect(alert).to_contain_text("The payment is already submitted to the bank.")


def test_a_contact_without_email_is_told_before_any_click(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    nora = overview([])
    nora["invoice"]["contact"] = {
        "id": "4150868000000500009",
        "name": "Nora Noemail",
        "email": None,
    }
    api.on("GET", MANDATES_PATH, ok(nora))
    page.goto(invoice_url(widget_url))
    send = page.get_by_role("button", name="Send setup link (GBP)")
    expect(send).to_be_disabled()
    expect(page.locator("#no-email")).to_have_text(
        "Nora Noemail has no email address in the CRM, so a setup link cannot be sent. "
        "Add an email address to the contact, then choose Check again."
    )
    expect(send).to_have_attribute("aria-describedby", "no-email")
    assert api.calls("POST", MANDATE_REQUESTS_PATH) == []


def test_a_refused_setup_link_says_what_to_do(page: Page, api: FakeApi, widget_url: str) -> None:
    # The address was removed in the CRM after the popup opened.
    api.on("GET", MANDATES_PATH, ok(overview([])))
    api.on(
        "POST",
        MANDATE_REQUESTS_PATH,
        problem(422, "contact_has_no_email", "Jane Doe has no email address in the CRM."),
    )
    page.goto(invoice_url(widget_url))
    page.get_by_role("button", name="Send setup link (GBP)").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Add an email address to the contact in the CRM, then open this invoice again."
    )


def test_a_missing_org_is_named(page: Page, api: FakeApi, widget_url: str) -> None:
    page.goto(invoice_url(widget_url).replace(f"&org_id={ORG_ID}", "&user_id=1"))
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading", name="This page cannot start")).to_be_visible()
    expect(alert).to_contain_text("add &org_id=… (the Zoho CRM org id) to the address")
    assert api.requests == []


def test_the_api_base_can_point_elsewhere(page: Page, api: FakeApi, widget_url: str) -> None:
    api.on("GET", f"/base{MANDATES_PATH}", ok(overview([mandate("MD0001AAAA")])))
    page.goto(invoice_url(widget_url, api_base="http://api.service.test/base/"))
    expect(page.get_by_role("button", name="Proceed")).to_be_visible()
    assert api.requests[0].url == f"http://api.service.test/base{MANDATES_PATH}"


def test_an_api_base_that_is_not_http_is_refused(page: Page, api: FakeApi, widget_url: str) -> None:
    page.goto(invoice_url(widget_url, api_base="javascript:alert(1)"))
    expect(page.get_by_role("alert")).to_contain_text("must start with https:// or http://")
    assert api.requests == []
