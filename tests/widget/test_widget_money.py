"""Money on screen: minor units become an exact decimal string by integer work, then
Intl.NumberFormat formats that string, so no amount ever goes through a float."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.fixture
def formats(page: Page, widget_url: str) -> Page:
    page.goto(f"{widget_url}/plugin-manifest.json")
    page.evaluate(f"import('{widget_url}/app/js/format.js').then(m => {{ window.money = m; }})")
    page.wait_for_function("window.money !== undefined")
    return page


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (12050, "GBP", "£120.50"),
        (5, "GBP", "£0.05"),
        (-5, "GBP", "-£0.05"),
        (0, "EUR", "€0.00"),
        (1999, "JPY", "JP¥1,999"),
        (123456, "KWD", "KWD 123.456"),
        (9007199254740991, "GBP", "£90,071,992,547,409.91"),
    ],
)
def test_minor_units_are_shown_exactly(
    formats: Page, amount: int, currency: str, shown: str
) -> None:
    text = formats.evaluate(f"money.formatMinorUnits({amount}, {currency!r})")
    assert text.replace("\u00a0", " ") == shown


def test_an_amount_that_is_not_an_integer_is_never_rounded_into_money(formats: Page) -> None:
    assert formats.evaluate("money.formatMinorUnits(120.5, 'GBP')") == "120.5 (minor units) GBP"
    assert formats.evaluate("money.formatMinorUnits(2 ** 60, 'GBP')").endswith("(minor units) GBP")


def test_invoice_totals_are_decimal_strings_formatted_as_they_are(formats: Page) -> None:
    assert formats.evaluate("money.formatDecimal('120.50', 'EUR')") == "€120.50"
    assert formats.evaluate("money.formatDecimal('0.10', 'GBP')") == "£0.10"
    assert formats.evaluate("money.formatDecimal('12e3', 'GBP')") == "12e3 GBP"
