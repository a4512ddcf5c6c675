"""The one rule for what an invoice's payment still means: does it hold the invoice (no second
payment may be made), can it be retried, may the invoice be collected again?

A failed payment is not over: GoCardless may retry it by itself (Success+, the failure event's
`details.will_attempt_retry`) or the merchant may retry it (`actions/retry`, at most three
times, only on an active mandate). While either can still happen, a second payment could
collect the invoice twice, so the failed payment keeps the invoice. A charge-back keeps it too
until the user confirms, knowing why, that the money should be collected again. The widget
shows what this module says (`PaymentOut.standing`) instead of keeping its own list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.gocardless.errors import GoCardlessNotFound
from app.adapters.gocardless.models import Event, Payment

_NEVER = datetime.min.replace(tzinfo=UTC)
# GoCardless allows three retries of one payment (API-FACTS §10).
MAX_RETRIES = 3
# Still on their way to being collected, or collected: the invoice is being paid by them.
IN_FLIGHT = frozenset(
    {"pending_customer_approval", "pending_submission", "submitted", "confirmed", "paid_out"}
)
# Nothing was or will be collected by them, and nothing can bring them back.
OVER = frozenset({"cancelled", "customer_approval_denied"})
# A mandate in one of these may still become active, and then the payment could be retried.
MANDATE_BEING_SET_UP = frozenset({"pending_customer_approval", "pending_submission", "submitted"})


class Standing(StrEnum):
    # The payment stands for the invoice: show it, make no other.
    holds = "holds"
    # Failed, but GoCardless will retry it or the user can: it keeps the invoice.
    retry_pending = "retry_pending"
    retryable = "retryable"
    # Charged back: a new payment only with the user's explicit confirmation.
    charged_back = "charged_back"
    # Over for good: the invoice may be collected with a new payment.
    over = "over"


@dataclass(frozen=True)
class Verdict:
    standing: Standing
    # Plain words: why, and what the user can do.
    reason: str

    @property
    def keeps_invoice(self) -> bool:
        return self.standing in (Standing.holds, Standing.retry_pending, Standing.retryable)


def standing_from_status(status: str) -> Verdict | None:
    """What the status alone decides; None for a failed payment, which needs GoCardless."""
    if status in IN_FLIGHT:
        return Verdict(Standing.holds, "the payment is collecting this invoice")
    if status in OVER:
        return Verdict(Standing.over, f"the payment was {status.replace('_', ' ')}")
    if status == "charged_back":
        return Verdict(
            Standing.charged_back,
            "the customer charged this payment back through their bank (a dispute); collect "
            "again only once you have spoken to them, or the same dispute may follow",
        )
    if status == "failed":
        return None
    # A status GoCardless added later: keep the invoice rather than risk a double charge.
    return Verdict(Standing.holds, f"the payment is {status.replace('_', ' ')}")


async def verdict(gc: GoCardlessClient, payment: Payment) -> Verdict:
    """The payment's standing, asking GoCardless about a failed one (its events and mandate)."""
    known = standing_from_status(payment.status)
    if known is not None:
        return known
    events = [event async for event in gc.iter_events(payment=payment.id)]
    retries = sum(1 for event in events if event.action == "resubmission_requested")
    # The list's order is not promised (API-FACTS §3): the latest failure by its own time.
    last_failure = max(
        (event for event in events if event.action == "failed"),
        key=lambda event: event.created_at or _NEVER,
        default=None,
    )
    details = last_failure.details if last_failure else None
    cause = _failure_words(last_failure)
    if details is not None and details.will_attempt_retry:
        return Verdict(
            Standing.retry_pending,
            f"the payment failed ({cause}) and GoCardless will retry it automatically",
        )
    if retries >= MAX_RETRIES:
        return Verdict(
            Standing.over,
            f"the payment failed ({cause}) and was already retried {retries} times, the most "
            "GoCardless allows",
        )
    mandate_status = await _mandate_status(gc, payment)
    if mandate_status == "active":
        return Verdict(
            Standing.retryable,
            f"the payment failed ({cause}); it can be retried on the same mandate",
        )
    if mandate_status in MANDATE_BEING_SET_UP:
        return Verdict(
            Standing.retry_pending,
            f"the payment failed ({cause}); it can be retried once its mandate is active",
        )
    words = (mandate_status or "gone").replace("_", " ")
    return Verdict(
        Standing.over,
        f"the payment failed ({cause}) and cannot be retried: its mandate is {words}",
    )


async def _mandate_status(gc: GoCardlessClient, payment: Payment) -> str | None:
    if not payment.links.mandate:
        return None
    try:
        return (await gc.get_mandate(payment.links.mandate)).status
    except GoCardlessNotFound:
        return None


def _failure_words(event: Event | None) -> str:
    if event is None:
        return "no reason given"
    return failure_reason(event.details.cause, event.details.description) or "no reason given"


def failure_reason(cause: str | None, description: str | None) -> str | None:
    """GoCardless's cause and description in plain words, e.g. "insufficient funds: The…"."""
    words = (cause or "").replace("_", " ").strip()
    text = (description or "").strip()
    if words and text:
        return f"{words}: {text}"
    return words or text or None
