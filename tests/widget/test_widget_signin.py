"""Signing in from the widget: the Zoho consent opens in a popup, and the session the service's
page posts back (from the service's origin only) is what every later call carries."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.widget.data import MANDATES_PATH, ORG_ID, invoice_url, mandate, overview
from tests.widget.fake_api import FakeApi, ok

pytestmark = [pytest.mark.browser, pytest.mark.signed_out]

NEW_SESSION = {
    "token": "fresh-session-from-the-popup",
    "expires_at": "2099-01-01T00:00:00Z",
    "user_id": "4150868000000225014",
    "installation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
}


def signin_page(session: dict[str, str], target: str) -> str:
    # What the service's callback page does (app/templates/oauth_result.html).
    return (
        "<!doctype html><title>Signed in</title><script>"
        f"window.opener.postMessage({json.dumps(session)}, {json.dumps(target)});"
        "window.close();</script>"
    )


def test_signing_in_through_the_popup_then_loading_the_invoice(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    asked: list[str] = []

    def answer(route: Route) -> None:
        asked.append(route.request.url)
        query = parse_qs(urlsplit(route.request.url).query)
        route.fulfill(content_type="text/html", body=signin_page(NEW_SESSION, query["origin"][0]))

    page.context.route("**/oauth/zoho/signin?**", answer)
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    page.goto(invoice_url(widget_url))
    expect(page.get_by_role("heading", name="Sign in with Zoho")).to_be_visible()
    assert api.requests == []
    with page.expect_popup():
        page.get_by_role("button", name="Sign in with Zoho").click()
    expect(page.get_by_role("button", name="Proceed")).to_be_visible()
    query = parse_qs(urlsplit(asked[0]).query)
    origin = f"{urlsplit(widget_url).scheme}://{urlsplit(widget_url).netloc}"
    assert query == {"org": [ORG_ID], "origin": [origin]}
    assert api.requests[0].headers["authorization"] == "Bearer fresh-session-from-the-popup"
    # Kept for the tab: a reload goes straight to the invoice.
    page.reload()
    expect(page.get_by_role("button", name="Proceed")).to_be_visible()


def test_a_closed_sign_in_window_is_explained(page: Page, api: FakeApi, widget_url: str) -> None:
    page.context.route(
        "**/oauth/zoho/signin?**",
        lambda route: route.fulfill(
            content_type="text/html", body="<script>window.close()</script>"
        ),
    )
    page.goto(invoice_url(widget_url))
    with page.expect_popup():
        page.get_by_role("button", name="Sign in with Zoho").click()
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading", name="You are not signed in")).to_be_visible()
    expect(alert.get_by_role("button", name="Sign in with Zoho")).to_be_visible()
    assert api.requests == []


def test_a_session_posted_by_another_window_is_ignored(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    page.context.route(
        "**/oauth/zoho/signin?**",
        lambda route: route.fulfill(content_type="text/html", body="<p>Zoho consent…</p>"),
    )
    page.goto(invoice_url(widget_url))
    with page.expect_popup():
        page.get_by_role("button", name="Sign in with Zoho").click()
    # Not the sign-in popup: the page itself (or any other frame) cannot hand over a session.
    page.evaluate(f"window.postMessage({json.dumps(NEW_SESSION)}, '*')")
    page.wait_for_timeout(300)
    assert api.requests == []
    expect(page.get_by_role("status")).to_have_text("Signing in with Zoho…")
