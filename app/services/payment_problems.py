"""Why a payment cannot be made: the problems both our own checks and GoCardless's refusals
end in (the refusals are mapped in services/provider_errors.py)."""

from __future__ import annotations

from app.errors import AppError


class CurrencyMismatch(AppError):
    status, code, title = 422, "currency_mismatch", "Invoice and mandate currencies differ"


class MandateNotUsable(AppError):
    status, code, title = 409, "mandate_not_usable", "The mandate cannot take payments"


class ChargeDateNotAllowed(AppError):
    status, code, title = 422, "charge_date_not_allowed", "The charge date is too early"


class AmountAboveSchemeMaximum(AppError):
    status, code, title = (
        422,
        "amount_above_scheme_maximum",
        "The amount is more than GoCardless collects in one payment",
    )


class AmountBelowSchemeMinimum(AppError):
    status, code, title = (
        422,
        "amount_below_scheme_minimum",
        "The amount is less than GoCardless collects in one payment",
    )


class PaymentReferenceRefused(AppError):
    status, code, title = 422, "payment_reference_refused", "GoCardless refused the reference"


class PaymentRefused(AppError):
    """A refusal of a field we have no more specific problem for; `field` names it."""

    status, code, title = 422, "payment_refused", "GoCardless refused the payment"
