"""The outbox in chromium: each mail fits the page, however long its link."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from app.simulators.zoho import pages
from app.simulators.zoho.state import Mail
from tests.demo.browser import browser  # noqa: F401

pytestmark = pytest.mark.browser

LONG_LINK = "http://127.0.0.1:8001/billing/static/flow?id=BRF" + "0123456789" * 12


def _mail(content: str) -> Mail:
    return Mail(
        message_id="m1",
        org_id="1",
        module="Contacts",
        record_id="4150868000000224010",
        sent_by_user_id="4150868000000224006",
        sent_at="2026-01-05T10:00:00+00:00",
        from_={"email": "a.very.long.sender.address@zylker-traders.example.com"},
        to=[{"email": "shared.inbox@example.com"}],
        cc=[],
        bcc=[],
        subject="Set up a Direct Debit to pay invoice INV-000004",
        content=content,
        mail_format="html",
    )


@pytest.mark.parametrize("width", [1280, 800, 420])
def test_the_outbox_fits_the_screen(browser: Browser, width: int) -> None:  # noqa: F811
    html = pages.outbox([_mail(f"<p>Hello</p><p><a href='{LONG_LINK}'>{LONG_LINK}</a></p>")])
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        page.set_content(html)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        frame = page.locator("article.mail iframe").bounding_box()
        assert frame is not None and frame["x"] + frame["width"] <= width
    finally:
        context.close()
