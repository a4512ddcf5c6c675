"""Wire formats and calendar rules the simulated API follows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# Scheme <-> currency is fixed: a payment must use its mandate's currency.
SCHEME_CURRENCY: dict[str, str] = {
    "bacs": "GBP",
    "sepa_core": "EUR",
    "autogiro": "SEK",
    "betalingsservice": "DKK",
    "becs": "AUD",
    "becs_nz": "NZD",
    "pad": "CAD",
    "ach": "USD",
}
CURRENCY_SCHEME: dict[str, str] = {currency: scheme for scheme, currency in SCHEME_CURRENCY.items()}
SCHEME_COUNTRY: dict[str, str] = {
    "bacs": "GB",
    "sepa_core": "FR",
    "autogiro": "SE",
    "betalingsservice": "DK",
    "becs": "AU",
    "becs_nz": "NZ",
    "pad": "CA",
    "ach": "US",
}
# These schemes submit a mandate together with its first payment, so it waits until then.
SUBMITS_WITH_FIRST_PAYMENT = frozenset({"sepa_core", "ach", "becs", "becs_nz"})
# Maximum payment `reference` length per scheme; PAD does not take one.
REFERENCE_MAX: dict[str, int] = {
    "ach": 10,
    "autogiro": 11,
    "bacs": 10,
    "becs": 30,
    "becs_nz": 12,
    "betalingsservice": 30,
    "sepa_core": 140,
}
# A payment's amount bounds per scheme, in minor units: GoCardless's default transaction
# minimum and limit (support article "Transaction limits"; it can raise them per creditor).
# A payment outside them is a `validation_failed` on `amount`. ACH has no published default.
SCHEME_AMOUNT_BOUNDS: dict[str, tuple[int, int]] = {
    "autogiro": (10_00, 50_000_00),
    "bacs": (1_00, 5_000_00),
    "becs": (2_00, 10_000_00),
    "becs_nz": (2_00, 10_000_00),
    "betalingsservice": (10_00, 50_000_00),
    "pad": (2_00, 5_000_00),
    "sepa_core": (1_00, 5_000_00),
}
AMOUNT_ABOVE_MAXIMUM = "is greater than the permitted scheme maximum"
AMOUNT_BELOW_MINIMUM = "is less than the permitted scheme minimum"
# Working days between submitting a collection and its charge date.
SUBMISSION_LEAD_DAYS: dict[str, int] = {"bacs": 2, "sepa_core": 1}
DEFAULT_SUBMISSION_LEAD_DAYS = 2
# Working days a new mandate needs before it is active (submission, then bank processing).
MANDATE_SUBMIT_AFTER_DAYS = 1
MANDATE_ACTIVE_AFTER_DAYS = 2

MANDATE_STATUSES_ACCEPTING_PAYMENTS = frozenset(
    {"pending_customer_approval", "pending_submission", "submitted", "active"}
)
# A business hour for scheduled bank-side transitions, so events land in the working day.
TRANSITION_HOUR = 7


def timestamp(moment: datetime) -> str:
    """`2014-01-01T12:00:00.000Z`: UTC with milliseconds, as every GoCardless timestamp."""
    # isoformat, not strftime: several times cheaper, and every listed resource has one.
    # Not cached: a Sync Now lists each resource once, so a cache of them only missed and
    # evicted (290,000 timestamps: 1.28-1.63 s through one, 1.03 s without).
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def parse_timestamp(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_date(value: object) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_working_day(day: date) -> bool:
    return day.weekday() < 5


def roll_forward(day: date) -> date:
    """Non-working days roll forward to the next working day."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, count: int) -> date:
    day = roll_forward(day)
    for _ in range(count):
        day = roll_forward(day + timedelta(days=1))
    return day


def subtract_working_days(day: date, count: int) -> date:
    for _ in range(count):
        day -= timedelta(days=1)
        while not is_working_day(day):
            day -= timedelta(days=1)
    return day


def at_business_hour(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, TRANSITION_HOUR, tzinfo=UTC)
