from __future__ import annotations

from decimal import Decimal

import pytest

from app.adapters.zoho.limits import OrgLimiter, OrgLimiters
from app.adapters.zoho.names import (
    CUSTOMER_FIELDS,
    CUSTOMERS,
    PAYMENT_FIELDS,
    PAYMENTS,
    ZohoNames,
    escape_criteria_value,
)

NAMES = ZohoNames("gocardless__")


def test_our_modules_are_prefixed_zohos_are_not() -> None:
    assert NAMES.module(CUSTOMERS) == "gocardless__GoCardless_Customers"
    assert NAMES.module(PAYMENTS) == "gocardless__GoCardless_Payments"
    assert NAMES.module("Contacts") == "Contacts"
    assert NAMES.module("Invoices") == "Invoices"


def test_only_the_extensions_own_fields_are_prefixed() -> None:
    assert [NAMES.field(f) for f in CUSTOMER_FIELDS] == [
        "Name",
        "Email",
        "gocardless__Company_Name",
        "gocardless__GoCardless_Customer_ID",
        "gocardless__Contact",
        "gocardless__Created_At",
    ]
    assert [NAMES.field(f) for f in PAYMENT_FIELDS] == [
        "Name",
        "gocardless__GoCardless_Payment_ID",
        "gocardless__Amount",
        "gocardless__Currency",
        "gocardless__Status",
        "gocardless__Charge_Date",
        "gocardless__GoCardless_Mandate_ID",
        "gocardless__Customer",
        "gocardless__Invoice",
        "gocardless__Description",
        "gocardless__Failure_Reason",
        "gocardless__Amount_Refunded",
        "gocardless__Payout_Date",
    ]
    for system in ("id", "Owner", "Created_Time", "Modified_Time", "$currency_symbol"):
        assert NAMES.field(system) == system
    # Zoho's own modules keep every field name, even ones we would prefix in ours.
    assert NAMES.api_field("Invoices", "Status") == "Status"


def test_an_empty_namespace_changes_nothing() -> None:
    names = ZohoNames("")
    assert names.module(CUSTOMERS) == CUSTOMERS
    assert names.to_api(PAYMENTS, {"Status": "paid_out"}) == {"Status": "paid_out"}


def test_round_trip() -> None:
    record = {
        "Name": "PM0001",
        "GoCardless_Payment_ID": "PM0001",
        "Amount": Decimal("10.5"),
        "Invoice": {"id": "4150868000000000009"},
    }
    api = NAMES.to_api(PAYMENTS, record)
    assert api == {
        "Name": "PM0001",
        "gocardless__GoCardless_Payment_ID": "PM0001",
        "gocardless__Amount": Decimal("10.5"),
        "gocardless__Invoice": {"id": "4150868000000000009"},
    }
    assert NAMES.from_api(PAYMENTS, {"id": "4150868000000000001", **api}) == {
        "id": "4150868000000000001",
        **record,
    }


def test_lookup_ids_become_lookup_objects() -> None:
    assert NAMES.to_api(CUSTOMERS, {"Contact": "4150868000000000005"}) == {
        "gocardless__Contact": {"id": "4150868000000000005"}
    }


def test_whole_amounts_read_back_as_decimal() -> None:
    amount = NAMES.from_api(PAYMENTS, {"gocardless__Amount": 25})["Amount"]
    assert amount == Decimal(25)
    assert isinstance(amount, Decimal)


def test_logical_module() -> None:
    assert NAMES.logical_module("gocardless__GoCardless_Payments") == PAYMENTS
    assert NAMES.logical_module("gocardless__Other") == "gocardless__Other"
    assert NAMES.logical_module("Invoices") == "Invoices"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a@b.test", "a@b.test"),
        ("Smith (UK), Ltd", r"Smith \(UK\)\, Ltd"),
        ("((,))", r"\(\(\,\)\)"),
    ],
)
def test_criteria_escaping(raw: str, escaped: str) -> None:
    assert escape_criteria_value(raw) == escaped


def test_criterion() -> None:
    assert NAMES.criterion(CUSTOMERS, "Email", "a(b)@c.test") == r"(Email:equals:a\(b\)@c.test)"
    assert (
        NAMES.criterion(PAYMENTS, "GoCardless_Mandate_ID", "MD01", "starts_with")
        == "(gocardless__GoCardless_Mandate_ID:starts_with:MD01)"
    )


def test_limiters_are_shared_per_org() -> None:
    limiters = OrgLimiters(limit=7)
    first = limiters.for_org("1")
    assert limiters.for_org("1") is first
    assert limiters.for_org("2") is not first
    assert first.limit == 7
    limiters.forget("1")
    assert limiters.for_org("1") is not first


def test_limiter_needs_a_positive_limit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        OrgLimiter(0)
