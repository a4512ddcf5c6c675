"""Each GoCardless refusal of a payment maps to its own problem (services/provider_errors.py),
never to `invalid_amount`; the shapes are the API's (`errors[].field`, `errors[].reason`)."""

from __future__ import annotations

import pytest

from app.adapters.gocardless.errors import GoCardlessInvalidState, GoCardlessValidationFailed
from app.services.provider_errors import payment_refusal


def _validation(field: str, message: str) -> GoCardlessValidationFailed:
    return GoCardlessValidationFailed(
        "Validation failed",
        status_code=422,
        error_type="validation_failed",
        errors=[{"field": field, "message": message, "request_pointer": f"/payments/{field}"}],
    )


@pytest.mark.parametrize(
    ("field", "message", "status", "code"),
    [
        (
            "charge_date",
            "must be on or after mandate's next_possible_charge_date",
            422,
            "charge_date_not_allowed",
        ),
        ("currency", "must be GBP for a bacs mandate", 422, "currency_mismatch"),
        (
            "amount",
            "is greater than the permitted scheme maximum",
            422,
            "amount_above_scheme_maximum",
        ),
        ("amount", "is less than the permitted scheme minimum", 422, "amount_below_scheme_minimum"),
        ("reference", "is too long (maximum is 10 characters)", 422, "payment_reference_refused"),
        ("app_fee", "must be less than the amount", 422, "payment_refused"),
    ],
)
def test_each_field_has_its_own_problem(field: str, message: str, status: int, code: str) -> None:
    problem = payment_refusal(
        _validation(field, message), mandate_id="MD1", scheme="bacs", amount=600000, currency="GBP"
    )
    assert (problem.status, problem.code) == (status, code)
    assert problem.code != "invalid_amount"


def test_an_amount_in_a_scheme_without_a_known_limit_is_still_its_own_problem() -> None:
    problem = payment_refusal(
        _validation("amount", "is greater than the permitted scheme maximum"),
        mandate_id="MD1",
        scheme="ach",
        amount=10_000_000,
        currency="USD",
    )
    assert problem.code == "amount_above_scheme_maximum" and "limit" not in problem.extra
    assert "ACH" in problem.detail


def test_an_inactive_mandate_is_not_usable() -> None:
    refused = GoCardlessInvalidState(
        "Mandate is failed, cancelled or expired",
        status_code=422,
        error_type="invalid_state",
        reasons=["mandate_is_inactive"],
    )
    problem = payment_refusal(refused, mandate_id="MD1", scheme="bacs", amount=100, currency="GBP")
    assert (problem.status, problem.code) == (409, "mandate_not_usable")
