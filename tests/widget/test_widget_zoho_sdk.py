"""Inside Zoho CRM: the invoice from PageLoad, the org from the SDK, the user's session from the
sign-in (never an API key from an org variable), and the popup closed (reloading the invoice)
only when the user clicks Done."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.widget.data import (
    INVOICE_ID,
    MANDATES_PATH,
    ORG_ID,
    PAYMENTS_PATH,
    SESSION_TOKEN,
    installation,
    mandate,
    overview,
    payment,
)
from tests.widget.fake_api import FakeApi, ok

pytestmark = pytest.mark.browser

ZOHO_SDK_URL = "https://live.zwidgets.com/js-sdk/1.2/ZohoEmbededAppSDK.min.js"
CRM_USER_ID = "4150868000000999001"

# Like the real SDK, PageLoad reaches only a handler registered before init().
FAKE_SDK = """
window.__zoho = { closeReloads: 0, variablesRead: [] };
window.ZOHO = {
  embeddedApp: {
    handlers: {},
    on(event, handler) { this.handlers[event] = handler; },
    init() {
      const pageLoad = this.handlers.PageLoad;
      if (pageLoad) setTimeout(() => pageLoad(PAGE_LOAD), 0);
      return Promise.resolve();
    },
  },
  CRM: {
    CONFIG: {
      getCurrentUser: () => Promise.resolve({ users: [{ id: USER_ID, full_name: "Ada Admin" }] }),
      getOrgInfo: () => Promise.resolve({ org: [{ id: ORG_ID, company_name: "Zylker" }] }),
    },
    API: {
      getOrgVariable: (name) =>
        window.__zoho.variablesRead.push(name) &&
        Promise.resolve(
          name in VARIABLES
            ? { Success: { Content: VARIABLES[name] } }
            : { Error: { Content: "No such variable" } },
        ),
    },
    UI: {
      Popup: {
        closeReload: () => {
          window.__zoho.closeReloads += 1;
          return Promise.resolve(true);
        },
      },
    },
  },
};
"""


def serve_sdk(page: Page, entity_id: Any, variables: dict[str, str]) -> None:
    page_load = {"Entity": "Invoices", "EntityId": entity_id, "ButtonPosition": "DetailView"}
    script = (
        f"const PAGE_LOAD = {json.dumps(page_load)};\n"
        f"const USER_ID = {json.dumps(CRM_USER_ID)};\n"
        f"const ORG_ID = {json.dumps(ORG_ID)};\n"
        f"const VARIABLES = {json.dumps(variables)};\n" + FAKE_SDK
    )

    def answer(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=script)

    page.route(ZOHO_SDK_URL, answer)


@pytest.mark.parametrize("entity_id", [[INVOICE_ID], INVOICE_ID], ids=["array", "string"])
def test_inside_zoho_the_sdk_names_invoice_and_org_and_done_closes_the_popup(
    page: Page, api: FakeApi, widget_url: str, entity_id: Any
) -> None:
    serve_sdk(page, entity_id, {"gocardless__api_key": "an old v1 key"})
    api.on("GET", MANDATES_PATH, ok(overview([mandate("MD0001AAAA")])))
    api.on("POST", PAYMENTS_PATH, ok({"payment": payment()}, status=201))
    page.goto(f"{widget_url}/app/widget.html")

    page.get_by_role("button", name="Proceed").click()
    expect(page.get_by_role("heading", name="Payment created")).to_be_visible()
    for call in api.requests:
        assert call.headers["authorization"] == f"Bearer {SESSION_TOKEN}"
        assert "x-zoho-user-id" not in call.headers
    # The v1 org variable holding an API key is never read.
    assert "gocardless__api_key" not in page.evaluate("window.__zoho.variablesRead")
    assert page.evaluate("window.__zoho.closeReloads") == 0

    page.get_by_role("button", name="Done").click()
    assert page.evaluate("window.__zoho.closeReloads") == 1


@pytest.mark.signed_out
def test_inside_zoho_a_user_who_has_not_signed_in_is_asked_to(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    serve_sdk(page, [INVOICE_ID], {})
    page.goto(f"{widget_url}/app/widget.html")
    expect(page.get_by_role("heading", name="Sign in with Zoho")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with Zoho")).to_be_enabled()
    assert api.requests == []


def test_inside_zoho_the_settings_page_uses_the_org_api_base(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    serve_sdk(page, None, {"gocardless__api_base": "https://api.service.test"})
    api.on("GET", "/api/v1/installation", ok(installation()))
    page.goto(f"{widget_url}/app/settings.html")
    expect(page.get_by_role("button", name="Sync Now")).to_be_visible()
    assert api.requests[0].url == "https://api.service.test/api/v1/installation"
    assert api.requests[0].headers["authorization"] == f"Bearer {SESSION_TOKEN}"


def test_without_zoho_or_url_parameters_the_page_says_what_it_needs(
    page: Page, api: FakeApi, widget_url: str
) -> None:
    page.route(ZOHO_SDK_URL, lambda route: route.abort("internetdisconnected"))
    page.goto(f"{widget_url}/app/widget.html")
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading", name="This page cannot start")).to_be_visible()
    expect(alert).to_contain_text("add ?invoice_id=… to the address")
    expect(alert).to_contain_text("add &org_id=… (the Zoho CRM org id) to the address")
