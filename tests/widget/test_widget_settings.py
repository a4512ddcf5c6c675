"""The settings page: both connections with their authorize links, and Sync Now's progress."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.widget.data import Snapshot, chain, installation, settings_url, sync
from tests.widget.fake_api import FakeApi, ok, problem

pytestmark = pytest.mark.browser

SPLIT = "2026-03-03T10:00:00.000Z"
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


def test_a_running_sync_shows_each_chain_the_crm_writes_and_the_time_left(
    page: Page, api: FakeApi, widget_url: str, snapshot: Snapshot
) -> None:
    page.clock.install()
    running = sync("running", customers=1200, payments=800, progress=0.57) | {
        "seconds_left": 9,
        "chains": [
            chain("customers", "customers", listed=1500, done=True),
            chain("mandates", "mandates", listed=1400, pages_left=1),
            chain("payments", "payments", listed=4000, pages_left=6, created_from=SPLIT),
            chain("payments-2", "payments", listed=500, pages_left=None, created_before=SPLIT),
        ],
        "crm_writes": {
            "customers": {"written": 1200, "rejected": 2, "waiting": 298, "expected": 1500},
            "payments": {"written": 800, "rejected": 0, "waiting": 3700, "expected": None},
        },
    }
    body = installation(state="running")
    body["sync"] = running
    api.on("GET", STATUS_PATH, ok(body))
    api.on("GET", SYNC_PATH, ok(running))
    page.goto(settings_url(widget_url))

    card = page.locator("#sync")
    expect(card.locator(".sync-eta")).to_have_text("About 9 s left")
    rows = card.locator(".sync-details dt")
    expect(rows).to_have_count(6)
    expect(rows.nth(0)).to_have_text("Reading customers")
    expect(rows.nth(2)).to_contain_text("Reading payments since ")
    expect(rows.nth(3)).to_contain_text("Reading payments before ")
    values = card.locator(".sync-details dd")
    expect(values.nth(0)).to_have_text("1,500 read — done")
    expect(values.nth(2)).to_have_text("4,000 read, about 6 pages to go")
    expect(values.nth(3)).to_have_text("500 read")
    expect(values.nth(4)).to_have_text("1,200 of about 1,500 written, 2 refused")
    expect(values.nth(5)).to_have_text("800 written")
    snapshot("24-sync-chains")


def test_a_finished_sync_counts_later_records_apart(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    body = installation(state="succeeded")
    body["sync"] = sync("succeeded", customers=32, payments=90, progress=1.0) | {
        "customers_added_since": 1,
        "payments_added_since": 4,
    }
    api.on("GET", STATUS_PATH, ok(body))
    page.goto(settings_url(widget_url))
    card = page.locator("#sync")
    expect(card.locator(".sync-counts")).to_have_text("100% — 32 customers and 90 payments copied.")
    expect(card.locator(".sync-added")).to_have_text(
        "Since then 1 customers and 4 payments arrived in real time."
    )
    expect(card.locator(".sync-details")).to_have_count(0)


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
