from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.money import (
    CURRENCY_EXPONENTS,
    SCHEME_CURRENCIES,
    InvalidAmount,
    UnknownScheme,
    UnsupportedCurrency,
    currency_exponent,
    from_minor_units,
    scheme_currency,
    to_minor_units,
)

CURRENCIES = sorted(CURRENCY_EXPONENTS)


@pytest.mark.parametrize(
    ("amount", "minor"),
    [
        (Decimal("10.50"), 1050),
        (Decimal("10.5"), 1050),
        (Decimal("10.500"), 1050),
        (Decimal("0.01"), 1),
        (Decimal("1E+3"), 100000),
        (Decimal("1234567890123456789012345678901.99"), 123456789012345678901234567890199),
        ("  99.99 ", 9999),
        ("7", 700),
    ],
)
def test_to_minor_units(amount: Decimal | str, minor: int) -> None:
    assert to_minor_units(amount, "GBP") == minor


def test_from_minor_units_keeps_the_currency_decimals() -> None:
    assert str(from_minor_units(1050, "EUR")) == "10.50"
    assert str(from_minor_units(5, "EUR")) == "0.05"
    assert str(from_minor_units(0, "EUR")) == "0.00"
    assert from_minor_units(-250, "EUR") == Decimal("-2.50")


@pytest.mark.parametrize("amount", [Decimal("10.001"), Decimal("0.005"), "1.234"])
def test_too_many_decimals_is_refused(amount: Decimal | str) -> None:
    with pytest.raises(InvalidAmount, match="at most 2 decimal places"):
        to_minor_units(amount, "USD")


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-0.00"), Decimal("-1.00")])
def test_non_positive_is_refused_unless_allowed(amount: Decimal) -> None:
    with pytest.raises(InvalidAmount, match="greater than zero"):
        to_minor_units(amount, "GBP")
    assert to_minor_units(amount, "GBP", require_positive=False) == int(amount * 100)


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), "-inf", "ten", ""])
def test_non_numbers_are_refused(amount: Decimal | str) -> None:
    with pytest.raises(InvalidAmount):
        to_minor_units(amount, "GBP")


@pytest.mark.parametrize("amount", [10.5, 10, True])
def test_floats_and_ints_are_refused(amount: object) -> None:
    with pytest.raises(InvalidAmount, match="Decimal or str"):
        to_minor_units(amount, "GBP")  # type: ignore[arg-type]


def test_minor_units_must_be_int() -> None:
    with pytest.raises(InvalidAmount):
        from_minor_units(10.0, "GBP")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        from_minor_units(True, "GBP")


def test_unknown_currency() -> None:
    with pytest.raises(UnsupportedCurrency, match="JPY"):
        to_minor_units(Decimal("1"), "JPY")
    with pytest.raises(UnsupportedCurrency):
        from_minor_units(1, "gbp")


def test_every_gocardless_currency_has_two_decimals_today() -> None:
    assert {c: currency_exponent(c) for c in CURRENCIES} == dict.fromkeys(CURRENCIES, 2)


@pytest.mark.parametrize(
    ("scheme", "currency"),
    [
        ("bacs", "GBP"),
        ("sepa_core", "EUR"),
        ("autogiro", "SEK"),
        ("betalingsservice", "DKK"),
        ("becs", "AUD"),
        ("becs_nz", "NZD"),
        ("pad", "CAD"),
        ("ach", "USD"),
        ("pay_to", "AUD"),
        ("faster_payments", "GBP"),
    ],
)
def test_scheme_currency(scheme: str, currency: str) -> None:
    assert scheme_currency(scheme) == currency


def test_every_scheme_currency_is_convertible() -> None:
    assert set(SCHEME_CURRENCIES.values()) <= set(CURRENCY_EXPONENTS)


def test_unknown_scheme() -> None:
    with pytest.raises(UnknownScheme, match="swift"):
        scheme_currency("swift")


@given(minor=st.integers(min_value=1, max_value=10**40), currency=st.sampled_from(CURRENCIES))
def test_minor_units_round_trip(minor: int, currency: str) -> None:
    major = from_minor_units(minor, currency)
    assert to_minor_units(major, currency) == minor
    assert to_minor_units(str(major), currency) == minor


@given(
    amount=st.decimals(min_value=Decimal("0.01"), allow_nan=False, allow_infinity=False, places=2),
    currency=st.sampled_from(CURRENCIES),
)
def test_decimal_round_trip(amount: Decimal, currency: str) -> None:
    assert from_minor_units(to_minor_units(amount, currency), currency) == amount


@given(thousandths=st.integers(min_value=-(10**30), max_value=10**30))
def test_a_third_decimal_is_refused_exactly_when_not_zero(thousandths: int) -> None:
    amount = Decimal(f"{thousandths}E-3")  # exact, unlike scaleb under a 28-digit context
    if thousandths % 10:
        with pytest.raises(InvalidAmount, match="decimal places"):
            to_minor_units(amount, "GBP", require_positive=False)
    else:
        assert to_minor_units(amount, "GBP", require_positive=False) == thousandths // 10
