"""The settings page: both connections with their authorize links, and Sync Now's progress."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.widget.data import Snapshot, installation, settings_url, sync
from tests.widget.fake_api import FakeApi, ok, problem

pytestmark = pytest.mark.browser

STATUS_PATH = "/api/v1/installation"
SYNC_PATH = "/api/v1/installation/sync"


def test_sync_now_shows_progress_until_it_succeeds(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    page.clock.install()
    api.on("GET", STATUS_PATH, ok(installation()))
    api.on("POST", SYNC_PATH, ok(sync("running"), status=202))
    api.on(
        "GET",
        SYNC_PATH,
        ok(sync("running", customers=12, progress=0.4)),
        ok(sync("succeeded", customers=30, payments=120, progress=1.0)),
    )
    page.goto(settings_url(widget_url))
    expect(page.get_by_role("heading", name="Zoho CRM")).to_be_visible()
    expect(page.locator("[aria-labelledby=zoho-title] .badge")).to_have_text("Connected")
    expect(page.locator("[aria-labelledby=gocardless-title]")).to_contain_text("Verified")
    expect(page.get_by_role("link", name="Authorize Zoho CRM")).to_have_count(0)
    snapshot("20-settings")

    page.get_by_role("button", name="Sync Now").click()
    bar = page.get_by_role("progressbar", name="Sync progress")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.get_by_role("button", name="Sync Now")).to_have_count(0)
    page.clock.run_for(1400)
    assert api.calls("GET", SYNC_PATH) == []

    page.clock.run_for(100)
    expect(bar).to_have_attribute("aria-valuenow", "40")
    expect(page.locator(".sync-counts")).to_have_text("40% — 12 customers and 0 payments copied.")
    expect(page.get_by_role("status")).to_have_text("Syncing… 40%")
    snapshot("21-sync-running")

    page.clock.run_for(1500)
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(".sync-counts")).to_have_text(
        "100% — 30 customers and 120 payments copied."
    )
    expect(page.get_by_role("status")).to_have_text(
        "Sync finished: 30 customers and 120 payments copied."
    )
    snapshot("22-sync-done")
    page.clock.run_for(4500)
    assert len(api.calls("GET", SYNC_PATH)) == 2
    assert len(api.calls("POST", SYNC_PATH)) == 1


def test_a_sync_already_running_is_followed_on_load(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    page.clock.install()
    api.on("GET", STATUS_PATH, ok(installation(state="running")))
    api.on("GET", SYNC_PATH, ok(sync("failed", customers=3, progress=0.1)))
    page.goto(settings_url(widget_url))
    expect(page.get_by_role("progressbar")).to_be_visible()
    page.clock.run_for(1500)
    expect(page.locator("#sync")).to_contain_text("Failed")
    expect(page.get_by_role("status")).to_contain_text("Sync failed.")


def test_unauthorized_accounts_offer_authorize_links_in_a_new_window(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    api.on("GET", STATUS_PATH, ok(installation(zoho=False, gocardless=False)))
    page.goto(settings_url(widget_url))
    zoho = page.get_by_role("link", name="Authorize Zoho CRM")
    gocardless = page.get_by_role("link", name="Authorize GoCardless")
    expect(zoho).to_have_attribute("href", "http://service.test/oauth/zoho/start?link=signed-zoho")
    expect(zoho).to_have_attribute("target", "_blank")
    expect(gocardless).to_have_attribute(
        "href", "http://service.test/oauth/gocardless/start?link=signed-gc"
    )
    expect(gocardless).to_have_attribute("target", "_blank")
    expect(page.get_by_role("button", name="Sync Now")).to_have_count(0)
    expect(page.locator("#sync")).to_contain_text("Sync Now becomes available once")
    snapshot("23-settings-not-connected")


def test_an_inactive_gocardless_account_says_why(page: Page, api: FakeApi, widget_url: str) -> None:
    body = installation()
    body["gocardless"] |= {
        "active": False,
        "verification_status": "action_required",
        "inactive_reason": "The GoCardless account is not verified yet: GoCardless needs more "
        "information.",
    }
    body["sync"]["can_sync_now"] = False
    api.on("GET", STATUS_PATH, ok(body))
    page.goto(settings_url(widget_url))
    card = page.locator("[aria-labelledby=gocardless-title]")
    expect(card).to_contain_text("Action required in the GoCardless dashboard")
    expect(card.locator(".inactive-reason")).to_have_text(
        "The GoCardless account is not verified yet: GoCardless needs more information."
    )
    expect(page.get_by_role("button", name="Sync Now")).to_have_count(0)


@pytest.mark.parametrize(
    ("code", "heading", "detail"),
    [
        (
            "sync_already_done",
            "Sync Now has already run",
            "New and changed GoCardless customers and payments reach the CRM by themselves.",
        ),
        (
            # The service's reason is kept: it says what GoCardless is waiting for.
            "gocardless_account_inactive",
            "The GoCardless account cannot collect payments yet",
            "GoCardless is reviewing the account; syncing starts once it is verified.",
        ),
    ],
)
def test_a_refused_sync_is_explained(
    page: Page, api: FakeApi, widget_url: str, code: str, heading: str, detail: str
) -> None:
    api.on("GET", STATUS_PATH, ok(installation()))
    api.on("POST", SYNC_PATH, problem(409, code, detail))
    page.goto(settings_url(widget_url))
    page.get_by_role("button", name="Sync Now").click()
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading", name=heading)).to_be_visible()
    expect(alert).to_contain_text(detail)


def test_refresh_reloads_the_status_after_authorizing_elsewhere(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    api.on(
        "GET", STATUS_PATH, ok(installation(gocardless=False)), ok(installation(gocardless=True))
    )
    page.goto(settings_url(widget_url))
    expect(page.get_by_role("link", name="Authorize GoCardless")).to_be_visible()
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("button", name="Sync Now")).to_be_visible()
    expect(page.get_by_role("link", name="Authorize GoCardless")).to_have_count(0)


def test_settings_update_by_themselves_after_authorizing_in_the_other_window(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    page.context.route("http://service.test/**", lambda route: route.fulfill(body="consent"))
    api.on(
        "GET",
        STATUS_PATH,
        ok(installation(gocardless=False)),
        ok(installation(gocardless=False)),
        ok(installation(gocardless=True)),
    )
    page.goto(settings_url(widget_url))
    authorize = page.get_by_role("link", name="Authorize GoCardless")
    with page.context.expect_page() as consent:
        authorize.click()
    consent.value.close()
    # No Refresh: the page looked again while the consent page was open.
    expect(page.get_by_role("button", name="Sync Now")).to_be_visible(timeout=10000)
    expect(page.get_by_role("link", name="Authorize GoCardless")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(
        "Both accounts are connected: Sync Now is ready."
    )
