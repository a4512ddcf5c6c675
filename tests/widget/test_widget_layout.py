"""Readable in Zoho's 420x560 popup: no state of either page scrolls sideways, even with long
unbroken names, emails, references and error details."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.widget.data import (
    MANDATE_REQUESTS_PATH,
    MANDATES_PATH,
    PAYMENTS_PATH,
    Snapshot,
    installation,
    invoice_url,
    mandate,
    overview,
    payment,
    settings_url,
)
from tests.widget.fake_api import FakeApi, ok, problem

pytestmark = pytest.mark.browser

LONG = "Unbroken" * 12


def long_overview(with_mandates: bool = True) -> dict[str, Any]:
    body = overview([mandate("MD0001AAAA"), mandate("MD0002BBBB", status="cancelled")])
    if not with_mandates:
        body["mandates"] = []
    body["invoice"]["number"] = f"INV-{LONG}"
    body["invoice"]["contact"] |= {"name": LONG, "email": f"{LONG}@{LONG}.example"}
    for item in body["mandates"]:
        item["reference"] = LONG
    return body


def long_payment(status: str = "pending_submission") -> dict[str, Any]:
    return payment(status=status) | {"reference": LONG, "id": f"PM{LONG}"}


def mandates_state(page: Page, api: FakeApi, widget_url: str) -> None:
    api.on("GET", MANDATES_PATH, ok(long_overview()))
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("button", name="Proceed")).to_be_visible()


def payment_state(page: Page, api: FakeApi, widget_url: str) -> None:
    mandates_state(page, api, widget_url)
    api.on("POST", PAYMENTS_PATH, ok({"payment": long_payment()}, status=201))
    page.get_by_role("button", name="Proceed").click()
    expect(page.get_by_role("button", name="Done")).to_be_visible()


def setup_link_state(page: Page, api: FakeApi, widget_url: str) -> None:
    api.on("GET", MANDATES_PATH, ok(long_overview(with_mandates=False)))
    request = {
        "id": "BRQ1",
        "authorisation_url": f"https://pay.example/{LONG}",
        "email_sent_to": f"{LONG}@{LONG}.example",
        "status": "pending",
    }
    api.on("POST", MANDATE_REQUESTS_PATH, ok({"mandate_request": request}, status=201))
    page.goto(invoice_url(widget_url))
    page.get_by_role("button", name="Send setup link (GBP)").click()
    expect(page.locator("#setup-sent")).to_be_visible()


def confirm_state(page: Page, api: FakeApi, widget_url: str) -> None:
    api.on("GET", MANDATES_PATH, ok(overview([], [long_payment()])))
    page.goto(invoice_url(widget_url, mode="cancel"))
    page.get_by_role("button", name="Cancel payment…").click()
    expect(page.get_by_role("dialog")).to_be_visible()


def error_state(page: Page, api: FakeApi, widget_url: str) -> None:
    api.on(
        "GET",
        MANDATES_PATH,
        problem(409, "gocardless_not_authorized", LONG, authorize_url=f"https://x.example/{LONG}"),
    )
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("link", name="Authorize GoCardless")).to_be_visible()


def settings_state(page: Page, api: FakeApi, widget_url: str) -> None:
    body = installation(state="running")
    body["zoho"]["org_id"] = LONG
    body["gocardless"] |= {"organisation_id": LONG, "inactive_reason": LONG}
    api.on("GET", "/api/v1/installation", ok(body))
    page.goto(settings_url(widget_url))
    expect(page.get_by_role("progressbar")).to_be_visible()


STATES: dict[str, Callable[[Page, FakeApi, str], None]] = {
    "mandates": mandates_state,
    "payment": payment_state,
    "setup-link": setup_link_state,
    "confirm": confirm_state,
    "error": error_state,
    "settings": settings_state,
}


@pytest.mark.parametrize("state", STATES)
def test_no_state_scrolls_sideways_in_the_popup(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot, state: str
) -> None:
    STATES[state](page, api, widget_url)
    widths = page.evaluate(
        "({ scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth })"
    )
    snapshot(f"30-layout-{state}")
    assert widths["client"] == 420
    assert widths["scroll"] <= widths["client"], f"{state} scrolls sideways: {widths}"
