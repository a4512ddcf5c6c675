"""Money as GoCardless counts it: integer minor units per currency, converted exactly.

Amounts are `Decimal` (never float) in major units on our side and `int` minor units on the
wire. Conversions are done on the decimal digits with integer arithmetic, so no context
precision or rounding mode can change a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from babel.numbers import format_currency


class MoneyError(ValueError):
    """An amount, currency or scheme we cannot turn into a valid GoCardless amount."""


class UnsupportedCurrency(MoneyError):
    pass


class InvalidAmount(MoneyError):
    pass


class UnknownScheme(MoneyError):
    pass


# Decimal places per currency GoCardless collects in. All are 2 today; the table keeps the
# conversion honest if a zero-decimal currency (e.g. JPY) is ever added.
CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(
    {"GBP": 2, "EUR": 2, "SEK": 2, "DKK": 2, "AUD": 2, "NZD": 2, "CAD": 2, "USD": 2}
)

# A mandate's scheme fixes its currency, and a payment must use its mandate's currency.
SCHEME_CURRENCIES: Mapping[str, str] = MappingProxyType(
    {
        "bacs": "GBP",
        "sepa_core": "EUR",
        "autogiro": "SEK",
        "betalingsservice": "DKK",
        "becs": "AUD",
        "becs_nz": "NZD",
        "pad": "CAD",
        "ach": "USD",
        "pay_to": "AUD",
        "faster_payments": "GBP",
    }
)


# The most one direct debit can carry in any scheme GoCardless uses: Bacs records hold the
# amount in 11 digits of pence and SEPA's largest is 999,999,999.99. GoCardless refuses
# lower amounts for many merchants, with an error of its own.
MAX_DEBIT_MINOR_UNITS = 99_999_999_999


# GoCardless's default per-payment minimum and limit by scheme, in minor units (its support
# article "Transaction limits"). GoCardless can raise a creditor's limits, so these are never
# enforced here: they only name the standard figure when GoCardless refuses an amount.
SCHEME_DEFAULT_AMOUNT_BOUNDS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "autogiro": (10_00, 50_000_00),
        "bacs": (1_00, 5_000_00),
        "becs": (2_00, 10_000_00),
        "becs_nz": (2_00, 10_000_00),
        "betalingsservice": (10_00, 50_000_00),
        "pad": (2_00, 5_000_00),
        "sepa_core": (1_00, 5_000_00),
    }
)


def currency_exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnsupportedCurrency(f"GoCardless does not collect in {currency!r}") from None


def scheme_currency(scheme: str) -> str:
    try:
        return SCHEME_CURRENCIES[scheme]
    except KeyError:
        raise UnknownScheme(f"no currency known for mandate scheme {scheme!r}") from None


def to_minor_units(amount: Decimal | str, currency: str, *, require_positive: bool = True) -> int:
    """`Decimal("10.50")`, GBP → 1050. Refuses more decimals than the currency has.

    Positive by default, because every amount we send (payments, refunds) must be; pass
    `require_positive=False` to convert a zero or negative figure for display or comparison.
    """
    value = _as_decimal(amount)
    exponent = currency_exponent(currency)
    sign, digits, digit_exponent = value.as_tuple()
    if not isinstance(digit_exponent, int):  # NaN and Infinity carry a letter here
        raise InvalidAmount(f"{amount!r} is not a finite amount")
    coefficient = int("".join(map(str, digits))) if digits else 0
    shift = digit_exponent + exponent
    minor: int
    if shift >= 0:
        minor = coefficient * 10**shift
    else:
        divisor: int = 10**-shift
        if coefficient % divisor:
            raise InvalidAmount(f"{currency} allows at most {exponent} decimal places, got {value}")
        minor = coefficient // divisor
    if sign:
        minor = -minor
    if require_positive and minor <= 0:
        raise InvalidAmount(f"amount must be greater than zero, got {value}")
    return minor


def from_minor_units(minor: int, currency: str) -> Decimal:
    """1050, GBP → `Decimal("10.50")`, always with the currency's number of decimals."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise InvalidAmount(f"minor units must be an int, got {type(minor).__name__}")
    # Parsed from "<minor>e-<exponent>": exact, and a fraction of building the digit tuple.
    return Decimal(f"{minor}e-{currency_exponent(currency)}")


def format_money(amount: Decimal, currency: str) -> str:
    """`Decimal("300")`, GBP → "£300.00": how the widget (the browser's Intl) writes it."""
    return format_currency(amount, currency, locale="en")


def _as_decimal(amount: Decimal | str) -> Decimal:
    # Floats are refused outright: 0.1 + 0.2 has already lost the cents before we see it.
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, str):
        try:
            return Decimal(amount.strip())
        except ArithmeticError:
            raise InvalidAmount(f"{amount!r} is not a decimal amount") from None
    raise InvalidAmount(f"amounts must be Decimal or str, got {type(amount).__name__}")
