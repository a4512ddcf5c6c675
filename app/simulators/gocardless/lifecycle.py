"""The status machines of mandates and payments, driven by the simulated calendar.

Bank-side steps are scheduled for a working day and applied when the clock passes it
(lazily on each API call, or at once when an admin advances time). Each step emits the
event GoCardless emits. Event times never go backwards, so a consumer's created_at
high-water mark does not skip anything.
"""

from __future__ import annotations

import heapq
from datetime import date, datetime
from typing import Any, Literal

from app.simulators.gocardless import errors
from app.simulators.gocardless.events import details_for, emit
from app.simulators.gocardless.formats import (
    DEFAULT_SUBMISSION_LEAD_DAYS,
    MANDATE_ACTIVE_AFTER_DAYS,
    MANDATE_STATUSES_ACCEPTING_PAYMENTS,
    SUBMISSION_LEAD_DAYS,
    SUBMITS_WITH_FIRST_PAYMENT,
    add_working_days,
    at_business_hour,
    subtract_working_days,
)
from app.simulators.gocardless.resources import Mandate, Payment, Payout, Refund
from app.simulators.gocardless.state import Organisation, ScheduledTransition, SimulatorState

MAX_RETRIES = 3
# Success+ intelligent retries: the bank is asked again this many working days after a failure.
AUTO_RETRY_AFTER_DAYS = 3
MANDATE_INACTIVE = frozenset({"failed", "cancelled", "expired", "consumed", "blocked"})
# Where an admin move may go from each payment status, walking through the statuses between.
PAYMENT_PATHS: dict[str, list[str]] = {
    "submitted": ["submitted"],
    "confirmed": ["submitted", "confirmed"],
    "paid_out": ["submitted", "confirmed", "paid_out"],
    "failed": ["submitted", "failed"],
    "charged_back": ["submitted", "confirmed", "paid_out", "charged_back"],
}
MANDATE_PATHS: dict[str, list[str]] = {
    "submitted": ["submitted"],
    "active": ["submitted", "active"],
    "failed": ["submitted", "failed"],
    "expired": ["submitted", "active", "expired"],
}


class TransitionRefused(Exception):
    """An admin asked for a move the real status machine cannot make."""


def lead_days(scheme: str) -> int:
    return SUBMISSION_LEAD_DAYS.get(scheme, DEFAULT_SUBMISSION_LEAD_DAYS)


def next_possible_charge_date(state: SimulatorState, mandate: Mandate) -> date | None:
    if mandate.status not in MANDATE_STATUSES_ACCEPTING_PAYMENTS:
        return None
    today = state.clock.today()
    base = today if mandate.status == "active" else max(today, mandate.ready_on)
    # Submission happens on the working day after the request, then the scheme's lead time.
    return add_working_days(base, lead_days(mandate.scheme) + 1)


def refresh(state: SimulatorState, mandate: Mandate) -> Mandate:
    mandate.next_possible_charge_date = next_possible_charge_date(state, mandate)
    return mandate


def _schedule(
    state: SimulatorState,
    org: Organisation,
    kind: Literal["payment", "mandate", "refund", "payout"],
    resource_id: str,
    status: str,
    day: date,
) -> None:
    org.schedule_transition(
        ScheduledTransition(
            due=at_business_hour(day),
            sequence=state.next_transition_sequence(),
            kind=kind,
            resource_id=resource_id,
            from_status=status,
        )
    )


def schedule_mandate_submission(state: SimulatorState, org: Organisation, mandate: Mandate) -> None:
    _schedule(
        state,
        org,
        "mandate",
        mandate.id,
        "pending_submission",
        add_working_days(state.clock.today(), 1),
    )


def needs_scheduled_submission(mandate: Mandate) -> bool:
    return mandate.scheme not in SUBMITS_WITH_FIRST_PAYMENT


def schedule_payment_submission(state: SimulatorState, org: Organisation, payment: Payment) -> None:
    day = max(
        subtract_working_days(payment.charge_date, lead_days(payment.scheme)), state.clock.today()
    )
    _schedule(state, org, "payment", payment.id, "pending_submission", day)
    mandate = org.mandates.get(payment.mandate)
    if (
        mandate is not None
        and mandate.status == "pending_submission"
        and not needs_scheduled_submission(mandate)
    ):
        _schedule(state, org, "mandate", mandate.id, "pending_submission", day)


def tick(state: SimulatorState, org: Organisation) -> None:
    """Apply every scheduled step whose time has come, in time order."""
    now = state.clock.now()
    floor = org.last_tick
    while org.schedule and org.schedule[0].due <= now:
        step = heapq.heappop(org.schedule)
        at = max(step.due, floor)
        if step.kind == "payment":
            payment = org.payments.get(step.resource_id)
            if payment is not None and payment.status == step.from_status:
                _advance_payment(state, org, payment, at)
        elif step.kind == "refund":
            refund = org.refunds.get(step.resource_id)
            if refund is not None and refund.status == step.from_status:
                _advance_refund(state, org, refund, at)
        elif step.kind == "payout":
            payout = org.payouts.get(step.resource_id)
            if payout is not None and payout.status == step.from_status:
                payout.status = "paid"
                emit(
                    state, org, resource_type="payouts", action="paid", resource_id=payout.id, at=at
                )
        else:
            mandate = org.mandates.get(step.resource_id)
            if mandate is not None and mandate.status == step.from_status:
                _advance_mandate(state, org, mandate, at)
        floor = at
    org.last_tick = max(now, floor)


def _advance_payment(
    state: SimulatorState, org: Organisation, payment: Payment, at: datetime
) -> None:
    if payment.status == "pending_submission":
        mandate = org.mandates.get(payment.mandate)
        if mandate is not None and mandate.status == "pending_submission":
            enter_mandate_status(state, org, mandate, "submitted", at)
        enter_payment_status(state, org, payment, "submitted", at)
    elif payment.status == "submitted":
        failed = state.failure_rate and state.random.random() < state.failure_rate
        if failed:
            fail_payment(state, org, payment, at)
        else:
            enter_payment_status(state, org, payment, "confirmed", at)
    elif payment.status == "confirmed":
        enter_payment_status(state, org, payment, "paid_out", at)
    elif payment.status == "failed" and payment.auto_retry_pending:
        _auto_retry(state, org, payment, at)


def fail_payment(
    state: SimulatorState,
    org: Organisation,
    payment: Payment,
    at: datetime,
    *,
    late: bool = False,
) -> None:
    """The bank returns the payment. With `retry_if_possible` (Success+) GoCardless books an
    automatic retry when one is allowed and says so in `details.will_attempt_retry`."""
    mandate = org.mandates.get(payment.mandate)
    not_retried: str | None = None
    if not payment.retry_if_possible:
        not_retried = None
    elif late:
        not_retried = "late_failure"
    elif payment.retries >= MAX_RETRIES:
        not_retried = "max_retries_reached"
    elif mandate is None or mandate.status != "active":
        not_retried = "mandate_not_active"
    will_retry = payment.retry_if_possible and not_retried is None
    extra: dict[str, Any] = {"will_attempt_retry": will_retry}
    if not_retried:
        extra["not_retried_reason"] = not_retried
    if late:
        extra |= {
            "cause": "refer_to_payer",
            "description": "The customer's bank returned the payment after it was confirmed.",
        }
    payment.auto_retry_pending = will_retry
    details = details_for("payments", "failed", scheme=payment.scheme, **extra)
    enter_payment_status(state, org, payment, "failed", at, details=details)
    if will_retry:
        _schedule(
            state,
            org,
            "payment",
            payment.id,
            "failed",
            add_working_days(at.date(), AUTO_RETRY_AFTER_DAYS),
        )


def _auto_retry(state: SimulatorState, org: Organisation, payment: Payment, at: datetime) -> None:
    mandate = org.mandates.get(payment.mandate)
    payment.auto_retry_pending = False
    if mandate is None or mandate.status != "active":
        return
    payment.retries += 1
    charge_date = next_possible_charge_date(state, mandate)
    payment.charge_date = charge_date or payment.charge_date
    details = {
        "origin": "gocardless",
        "cause": "payment_autoretried",
        "description": "This payment will be automatically retried by GoCardless.",
    }
    enter_payment_status(state, org, payment, "pending_submission", at, details=details)


def _advance_mandate(
    state: SimulatorState, org: Organisation, mandate: Mandate, at: datetime
) -> None:
    following = {"pending_submission": "submitted", "submitted": "active"}
    enter_mandate_status(state, org, mandate, following[mandate.status], at)


def schedule_next_payment_step(
    state: SimulatorState, org: Organisation, payment: Payment, day: date
) -> None:
    """Book the bank's next move for a payment in flight (none once it has settled)."""
    if payment.status == "pending_submission":
        schedule_payment_submission(state, org, payment)
    elif payment.status == "submitted":
        _schedule(state, org, "payment", payment.id, "submitted", max(payment.charge_date, day))
    elif payment.status == "confirmed":
        next_day = add_working_days(max(payment.charge_date, day), 1)
        _schedule(state, org, "payment", payment.id, "confirmed", next_day)


def enter_payment_status(
    state: SimulatorState,
    org: Organisation,
    payment: Payment,
    status: str,
    at: datetime,
    *,
    details: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    links: dict[str, str | None] | None = None,
) -> None:
    payment.status = status
    action = "resubmission_requested" if status == "pending_submission" else status
    if status == "paid_out":
        links = {**(links or {}), "payout": _pay_out(state, org, payment, at).id}
    emit(
        state,
        org,
        resource_type="payments",
        action=action,
        resource_id=payment.id,
        resource_metadata=payment.metadata,
        details=details,
        metadata=metadata,
        links=links,
        at=at,
        scheme=payment.scheme,
    )
    schedule_next_payment_step(state, org, payment, at.date())


def _pay_out(state: SimulatorState, org: Organisation, payment: Payment, at: datetime) -> Payout:
    """The day's payout in the payment's currency takes the payment (one payout per currency
    and day, arriving the next working day, as GoCardless pays out daily)."""
    key = (payment.currency, at.date())
    payout = org.payouts.get(org.open_payouts.get(key, ""))
    if payout is None:
        payout = Payout(
            id=state.ids.next("PO"),
            created_at=at,
            amount=0,
            currency=payment.currency,
            arrival_date=add_working_days(at.date(), 1),
            creditor=org.creditor.id,
            creditor_bank_account=org.creditor.payout_accounts.get(payment.currency, ""),
            reference=f"{org.creditor.bank_reference_prefix}-{state.ids.digits(8)}",
        )
        org.payouts.add(payout.id, payout)
        org.open_payouts[key] = payout.id
        _schedule(state, org, "payout", payout.id, "pending", payout.arrival_date)
    payout.amount += payment.amount
    payment.payout = payout.id
    return payout


# A refund is submitted the working day after it is made and reaches the customer the next.
REFUND_STEPS = {"pending_submission": "submitted", "submitted": "paid"}
REFUNDABLE = frozenset({"confirmed", "paid_out"})


def create_refund(
    state: SimulatorState,
    org: Organisation,
    payment: Payment,
    amount: int,
    *,
    reference: str | None,
    metadata: dict[str, str],
) -> Refund:
    now = state.clock.now()
    refund = Refund(
        id=state.ids.next("RF"),
        created_at=now,
        amount=amount,
        currency=payment.currency,
        payment=payment.id,
        mandate=payment.mandate,
        status="pending_submission",
        reference=reference,
        metadata=metadata,
    )
    org.refunds.add(refund.id, refund, payment=payment.id, mandate=payment.mandate)
    payment.amount_refunded += amount
    emit(
        state,
        org,
        resource_type="refunds",
        action="created",
        resource_id=refund.id,
        resource_metadata=refund.metadata,
        links={"payment": payment.id, "mandate": payment.mandate},
        at=now,
    )
    _schedule(state, org, "refund", refund.id, refund.status, add_working_days(now.date(), 1))
    return refund


def _advance_refund(state: SimulatorState, org: Organisation, refund: Refund, at: datetime) -> None:
    refund.status = REFUND_STEPS[refund.status]
    if refund.status == "paid":
        emit(
            state,
            org,
            resource_type="refunds",
            action="paid",
            resource_id=refund.id,
            resource_metadata=refund.metadata,
            links={"payment": refund.payment, "mandate": refund.mandate},
            at=at,
        )
    else:
        _schedule(state, org, "refund", refund.id, refund.status, add_working_days(at.date(), 1))


def fail_refund(state: SimulatorState, org: Organisation, refund: Refund) -> None:
    """The customer's bank sends a refund back: the money returns to the merchant and the
    payment counts it as refunded no more."""
    if refund.status in ("bounced", "funds_returned", "cancelled"):
        raise TransitionRefused(f"a {refund.status} refund cannot fail")
    refund.status = "bounced"
    payment = org.payments.get(refund.payment)
    if payment is not None:
        payment.amount_refunded -= refund.amount
    emit(
        state,
        org,
        resource_type="refunds",
        action="failed",
        resource_id=refund.id,
        resource_metadata=refund.metadata,
        links={"payment": refund.payment, "mandate": refund.mandate},
    )


def enter_mandate_status(
    state: SimulatorState,
    org: Organisation,
    mandate: Mandate,
    status: str,
    at: datetime,
    *,
    details: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    mandate.status = status
    event = emit(
        state,
        org,
        resource_type="mandates",
        action=status,
        resource_id=mandate.id,
        resource_metadata=mandate.metadata,
        details=details,
        metadata=metadata,
        at=at,
        scheme=mandate.scheme,
    )
    if status == "submitted":
        _schedule(
            state,
            org,
            "mandate",
            mandate.id,
            "submitted",
            add_working_days(at.date(), MANDATE_ACTIVE_AFTER_DAYS),
        )
    if status in MANDATE_INACTIVE:
        # A mandate that stops cancels its payments that have not been submitted yet.
        for payment_id in org.payments.ids_for("mandate", mandate.id):
            payment = org.payments.get(payment_id)
            if payment is not None and payment.status in (
                "pending_submission",
                "pending_customer_approval",
            ):
                enter_payment_status(
                    state,
                    org,
                    payment,
                    "cancelled",
                    at,
                    details={
                        "origin": event.details["origin"],
                        "cause": f"mandate_{status}",
                        "description": f"The mandate for this payment was {status}.",
                    },
                    links={"parent_event": event.id},
                )


def cancel_payment(
    state: SimulatorState, org: Organisation, payment: Payment, metadata: dict[str, str]
) -> None:
    if payment.status != "pending_submission":
        raise errors.invalid_state(
            "cancellation_failed", "This payment is not in a cancellable state"
        )
    enter_payment_status(state, org, payment, "cancelled", state.clock.now(), metadata=metadata)


def retry_payment(
    state: SimulatorState,
    org: Organisation,
    payment: Payment,
    charge_date: date,
    metadata: dict[str, str],
) -> None:
    mandate = org.mandates.get(payment.mandate)
    if payment.status != "failed" or payment.retries >= MAX_RETRIES:
        raise errors.invalid_state("retry_failed", "This payment cannot be retried")
    if mandate is None or mandate.status != "active":
        raise errors.invalid_state("mandate_is_inactive", "Mandate is failed, cancelled or expired")
    payment.retries += 1
    # The merchant's retry takes the place of a booked automatic one.
    payment.auto_retry_pending = False
    payment.charge_date = charge_date
    enter_payment_status(
        state, org, payment, "pending_submission", state.clock.now(), metadata=metadata
    )


def cancel_mandate(
    state: SimulatorState, org: Organisation, mandate: Mandate, metadata: dict[str, str]
) -> None:
    if mandate.status in MANDATE_INACTIVE:
        raise errors.invalid_state(
            "cancellation_failed", "This mandate is not in a cancellable state"
        )
    enter_mandate_status(state, org, mandate, "cancelled", state.clock.now(), metadata=metadata)


def change_scheme_identifier(state: SimulatorState, org: Organisation, scheme: str) -> list[str]:
    """The creditor moves to a new scheme identifier (e.g. its own Bacs Service User Number):
    GoCardless replaces every mandate of that scheme still in use by a new one for the same
    customer and bank account, cancels the old one with `links.new_mandate` set, and sends a
    `replaced` event naming the new one. Returns the new mandates' ids."""
    tick(state, org)
    now = state.clock.now()
    # Set-up mandates move; one still being set up goes on under the identifier it started with.
    replaced = [
        m for m in org.mandates.newest_first() if m.scheme == scheme and m.status == "active"
    ]
    new_ids = []
    for old in replaced:
        new = Mandate(
            id=state.ids.next("MD"),
            created_at=now,
            creditor=old.creditor,
            customer=old.customer,
            customer_bank_account=old.customer_bank_account,
            scheme=old.scheme,
            reference=f"{org.creditor.bank_reference_prefix}-{state.ids.digits(8)}",
            # The bank already holds the customer's authority: the new mandate is usable.
            status="active",
            ready_on=old.ready_on,
            metadata=dict(old.metadata),
        )
        org.mandates.add(
            new.id, new, customer=new.customer, customer_bank_account=new.customer_bank_account
        )
        # Cancelled without the cancellation's side effects: payments already made go on.
        old.status = "cancelled"
        old.new_mandate = new.id
        emit(
            state,
            org,
            resource_type="mandates",
            action="replaced",
            resource_id=old.id,
            resource_metadata=old.metadata,
            links={"new_mandate": new.id},
            at=now,
        )
        new_ids.append(new.id)
    return new_ids


def move_payment(state: SimulatorState, org: Organisation, payment: Payment, target: str) -> None:
    """Admin: take a payment to `target` through the statuses a real one passes."""
    tick(state, org)
    if target == "cancelled":
        cancel_payment(state, org, payment, {})
        return
    path = PAYMENT_PATHS.get(target)
    if path is None:
        raise TransitionRefused(f"payments cannot be moved to {target!r}")
    steps = _remaining(path, payment.status, late={"failed", "charged_back"})
    if steps is None:
        raise TransitionRefused(f"a {payment.status} payment cannot become {target}")
    now = state.clock.now()
    for status in steps:
        if status == "failed":
            fail_payment(state, org, payment, now, late=payment.status in ("confirmed", "paid_out"))
        else:
            enter_payment_status(state, org, payment, status, now)


def move_mandate(state: SimulatorState, org: Organisation, mandate: Mandate, target: str) -> None:
    tick(state, org)
    if target == "cancelled":
        cancel_mandate(state, org, mandate, {})
        return
    path = MANDATE_PATHS.get(target)
    if path is None:
        raise TransitionRefused(f"mandates cannot be moved to {target!r}")
    steps = _remaining(path, mandate.status, late=set())
    if steps is None:
        raise TransitionRefused(f"a {mandate.status} mandate cannot become {target}")
    now = state.clock.now()
    for status in steps:
        enter_mandate_status(state, org, mandate, status, now)


def _remaining(path: list[str], current: str, *, late: set[str]) -> list[str] | None:
    """The steps of `path` still ahead of `current`; None when `current` is off the path.

    A `late` final step (a failure or chargeback) may also start from any status on the
    way, e.g. a paid-out payment can still fail.
    """
    if current in ("pending_submission", "pending_customer_approval"):
        return path
    if current in path[:-1]:
        return path[path.index(current) + 1 :]
    if path[-1] in late and current in ("confirmed", "paid_out"):
        return [path[-1]]
    return None
