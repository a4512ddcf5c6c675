"""The one place that turns provider failures into our problem codes."""

from __future__ import annotations

from typing import Any

from app.adapters.gocardless.errors import (
    GoCardlessError,
    GoCardlessForbidden,
    GoCardlessInvalidState,
    GoCardlessNotFound,
    GoCardlessUnauthorized,
    GoCardlessValidationFailed,
)
from app.adapters.zoho.errors import (
    ZohoError,
    ZohoInvalidToken,
    ZohoPermissionDenied,
    ZohoScopeMismatch,
)
from app.errors import (
    AppError,
    GoCardlessNotAuthorized,
    InternalError,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    ZohoNotAuthorized,
)
from app.money import SCHEME_DEFAULT_AMOUNT_BOUNDS, format_money, from_minor_units
from app.services.payment_problems import (
    AmountAboveSchemeMaximum,
    AmountBelowSchemeMinimum,
    ChargeDateNotAllowed,
    CurrencyMismatch,
    MandateNotUsable,
    PaymentReferenceRefused,
    PaymentRefused,
)

SCHEME_NAMES = {
    "ach": "ACH",
    "autogiro": "Autogiro",
    "bacs": "Bacs",
    "becs": "BECS",
    "becs_nz": "BECS NZ",
    "betalingsservice": "Betalingsservice",
    "pad": "PAD",
    "pay_to": "PayTo",
    "sepa_core": "SEPA",
}


def provider_error_types() -> tuple[type[Exception], ...]:
    return (GoCardlessError, ZohoError)


def problem_for_provider_error(exc: Exception) -> AppError:
    if isinstance(exc, GoCardlessError):
        return _gocardless(exc)
    if isinstance(exc, ZohoError):
        return _zoho(exc)
    return InternalError("unexpected provider failure")


def _gocardless(exc: GoCardlessError) -> AppError:
    ref = f" (GoCardless request {exc.request_id})" if exc.request_id else ""
    if exc.transient:
        return ProviderUnavailable(f"GoCardless is not answering right now; try again{ref}")
    if isinstance(exc, GoCardlessUnauthorized | GoCardlessForbidden):
        return GoCardlessNotAuthorized(
            f"GoCardless refused our access; authorize GoCardless again{ref}"
        )
    if isinstance(exc, GoCardlessNotFound):
        return NotFound(f"GoCardless has no such resource{ref}")
    return ProviderError(f"GoCardless refused the request: {exc.message}{ref}")


def _zoho(exc: ZohoError) -> AppError:
    if exc.transient:
        return ProviderUnavailable("Zoho CRM is not answering right now; try again")
    if isinstance(exc, ZohoInvalidToken | ZohoScopeMismatch):
        return ZohoNotAuthorized("Zoho CRM refused our access; authorize Zoho CRM again")
    if isinstance(exc, ZohoPermissionDenied):
        return ProviderError("the authorizing Zoho user lacks a permission this needs")
    return ProviderError(f"Zoho CRM refused the request ({exc.code})")


def payment_refusal(
    exc: GoCardlessInvalidState | GoCardlessValidationFailed,
    *,
    mandate_id: str,
    scheme: str | None,
    amount: int,
    currency: str,
) -> AppError:
    """What GoCardless's refusal of a payment create means, one problem per field or reason.

    GoCardless names the field (`errors[].field`) and says why in words; its amount refusals
    do not name the limit, so the scheme's standard one is named, saying it can be raised.
    """
    if isinstance(exc, GoCardlessInvalidState):
        if exc.has_reason("mandate_is_inactive"):
            return MandateNotUsable(
                f"GoCardless says mandate {mandate_id} is failed, cancelled or expired"
            )
        return ProviderError(f"GoCardless refused the payment: {exc.message}")
    refusals = [
        {"field": str(e.get("field") or ""), "message": str(e.get("message") or "")}
        for e in exc.errors
    ] or [{"field": "", "message": exc.message}]
    field, message = refusals[0]["field"], refusals[0]["message"]
    said = f"GoCardless says {field} {message}".strip()
    extra: dict[str, Any] = {"gocardless_errors": refusals}
    if field == "currency":
        return CurrencyMismatch(f"{said}: mandate {mandate_id} cannot collect {currency}", **extra)
    if field == "charge_date":
        return ChargeDateNotAllowed(f"{said}; choose a later charge date", **extra)
    if field == "reference":
        return PaymentReferenceRefused(f"{said}; the invoice number cannot be the reference")
    if field == "amount" and ("maximum" in message or "minimum" in message):
        return _amount_out_of_bounds(
            above="maximum" in message, scheme=scheme, amount=amount, currency=currency, **extra
        )
    return PaymentRefused(f"{said}.", field=field or None, **extra)


def _amount_out_of_bounds(
    *, above: bool, scheme: str | None, amount: int, currency: str, **extra: Any
) -> AppError:
    name = SCHEME_NAMES.get(scheme or "", scheme or "this scheme")
    asked = format_money(from_minor_units(amount, currency), currency)
    bounds = SCHEME_DEFAULT_AMOUNT_BOUNDS.get(scheme or "")
    if above:
        detail = f"GoCardless refused {asked}: more than it collects in one {name} payment."
        if bounds is not None:
            limit = from_minor_units(bounds[1], currency)
            detail += (
                f" The standard {name} limit is {format_money(limit, currency)}; GoCardless can "
                "raise your account's limit (ask its support), or collect this invoice another way."
            )
            extra |= {"scheme": scheme, "limit": str(limit), "currency": currency}
        return AmountAboveSchemeMaximum(detail, **extra)
    detail = f"GoCardless refused {asked}: less than it collects in one {name} payment."
    if bounds is not None:
        minimum = from_minor_units(bounds[0], currency)
        detail += f" The standard {name} minimum is {format_money(minimum, currency)}."
        extra |= {"scheme": scheme, "minimum": str(minimum), "currency": currency}
    return AmountBelowSchemeMinimum(detail, **extra)
