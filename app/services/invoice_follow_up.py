"""What a payment's change means for the CRM Invoice it collects.

A failure, a late failure or a charge-back adds a Note to the Invoice and a Task for the
invoice's owner, saying what happened and what to do: once per GoCardless event, whatever
the redeliveries, retries and crashes (`PaymentNotice`, keyed by the event id). An
installation that reconciles also sets the Invoice's Status when the payment is collected
and sets it back when the payment fails or is charged back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from app.adapters.gocardless.models import Event
from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import (
    ZohoInvalidData,
    ZohoInvalidToken,
    ZohoScopeMismatch,
    ZohoTransientError,
)
from app.adapters.zoho.names import INVOICES
from app.log import get_logger
from app.models import Installation, PaymentNotice, ZohoConnection
from app.money import format_money, from_minor_units
from app.runtime import Runtime
from app.services.installations import zoho_usable
from app.services.payment_standing import failure_reason
from app.services.providers import zoho_crm

log = get_logger("app.services.invoice_follow_up")

NOTES = "Notes"
TASKS = "Tasks"
# Events after which the invoice is not, or no longer, paid by the payment.
FAILURES = frozenset({"failed", "charged_back"})
COLLECTED = frozenset({"confirmed", "paid_out"})


@dataclass(frozen=True)
class PaymentChange:
    """A payment as it is now, after events about it were processed."""

    id: str
    status: str
    amount: int
    currency: str
    invoice_id: str | None
    # It had been collected (confirmed or paid out) before these events: a failure now is late.
    was_collected: bool


def invoice_status_for(
    installation: Installation, change: PaymentChange, actions: set[str]
) -> str | None:
    """The Status the Invoice should take after these events, or None to leave it.

    Only an event that brought the payment to where it is now moves the Invoice, so a
    late-delivered `confirmed` never marks a payment that has since failed as collected.
    """
    if change.status in FAILURES and change.status in actions:
        return installation.invoice_status_failed
    on = installation.invoice_status_collected_on
    wanted = COLLECTED if on == "confirmed" else frozenset({"paid_out"})
    if change.status in wanted and on in actions:
        return installation.invoice_status_collected
    return None


class CrmNotReachable(ZohoTransientError):
    """The CRM cannot take the follow-up now (down, throttling, not authorized): the event
    waits for it without using up its attempts, so an outage never parks a failure's Note."""


async def follow_invoice(
    runtime: Runtime, installation: Installation, change: PaymentChange, events: Sequence[Event]
) -> None:
    """Notes, Tasks and the Invoice's Status for these events; CrmNotReachable (or another
    ZohoError) means "try again"."""
    try:
        await _follow(runtime, installation, change, events)
    except (ZohoTransientError, ZohoInvalidToken, ZohoScopeMismatch) as exc:
        if isinstance(exc, CrmNotReachable):
            raise
        raise CrmNotReachable(exc.code, exc.message) from exc


async def _follow(
    runtime: Runtime, installation: Installation, change: PaymentChange, events: Sequence[Event]
) -> None:
    if change.invoice_id is None:
        return
    events = [e for e in events if e.resource_type == "payments"]
    failures = await _not_yet_noticed(
        runtime, installation, [e for e in events if e.action in FAILURES and e.id]
    )
    status = invoice_status_for(installation, change, {e.action for e in events})
    if not failures and status is None:
        return
    crm = await _crm(runtime, installation)
    invoice = await crm.get_record(
        INVOICES, change.invoice_id, ["Owner", "Invoice_Number", "Subject", "Status"]
    )
    if invoice is None:
        log.info("invoice.follow_up_skipped", invoice_id=change.invoice_id, reason="deleted")
        return
    for event in failures:
        await _notice(runtime, crm, installation, change, invoice, event)
    # Already so (a page of events lists processed ones again): no write, no workflow run.
    if status is not None and invoice.get("Status") != status:
        await crm.update_record(INVOICES, change.invoice_id, {"Status": status})


async def _not_yet_noticed(
    runtime: Runtime, installation: Installation, failures: list[Event]
) -> list[Event]:
    """Leave out the events whose Note and Task are both made (a page of events lists
    already processed ones again), so they cost no CRM call."""
    if not failures:
        return []
    async with runtime.sessionmaker() as session:
        done = set(
            (
                await session.scalars(
                    select(PaymentNotice.event_id).where(
                        PaymentNotice.installation_id == installation.id,
                        PaymentNotice.event_id.in_([e.id for e in failures]),
                        PaymentNotice.note_id.is_not(None),
                        PaymentNotice.task_id.is_not(None),
                    )
                )
            ).all()
        )
    return [e for e in failures if e.id not in done]


async def _crm(runtime: Runtime, installation: Installation) -> ZohoCRM:
    async with runtime.sessionmaker() as session:
        zoho = await session.get(ZohoConnection, installation.id)
    if zoho is None or not zoho_usable(zoho):
        raise CrmNotReachable("NOT_CONNECTED", "Zoho CRM is not authorized")
    return zoho_crm(runtime, zoho)


@dataclass(frozen=True)
class _Words:
    title: str
    what: str
    todo: str


def _words(change: PaymentChange, invoice: dict[str, Any], event: Event) -> _Words:
    money = format_money(from_minor_units(change.amount, change.currency), change.currency)
    number = invoice.get("Invoice_Number") or invoice.get("Subject") or change.invoice_id
    payment = f"GoCardless payment {change.id} of {money} for invoice {number}"
    reason = failure_reason(event.details.cause, event.details.description) or "no reason given"
    if event.action == "charged_back":
        return _Words(
            "Direct Debit payment charged back",
            f"The customer charged back the {payment} through their bank ({reason}). "
            "GoCardless takes the money back from your payouts.",
            "Contact the customer before collecting again: a new payment they did not agree "
            "to may be disputed too.",
        )
    if change.was_collected:
        return _Words(
            "Direct Debit payment failed after collection",
            f"The {payment} had been collected but failed late ({reason}). "
            "GoCardless takes the money back from your payouts.",
            "Contact the customer, then retry the payment from the invoice or collect again.",
        )
    if event.details.will_attempt_retry:
        return _Words(
            "Direct Debit payment failed",
            f"The {payment} failed ({reason}).",
            "GoCardless will retry it automatically; contact the customer if the retry fails too.",
        )
    return _Words(
        "Direct Debit payment failed",
        f"The {payment} failed ({reason}).",
        "Retry it from the invoice's GoCardless button once the customer can pay, or contact "
        "the customer to agree how they will pay.",
    )


async def _notice(
    runtime: Runtime,
    crm: ZohoCRM,
    installation: Installation,
    change: PaymentChange,
    invoice: dict[str, Any],
    event: Event,
) -> None:
    assert event.id is not None and change.invoice_id is not None
    invoice_id, event_id = change.invoice_id, event.id
    notice = await _notice_row(runtime, installation, change, event_id)
    words = _words(change, invoice, event)
    # The event id in the text is how a create cut short by a crash is found again.
    marker = f"GoCardless event {event_id}"
    if notice.note_id is None:

        async def find_note() -> str | None:
            notes = await crm.related_records(
                INVOICES, invoice_id, NOTES, ["Note_Title", "Note_Content"]
            )
            return next(
                (str(n["id"]) for n in notes if marker in str(n.get("Note_Content") or "")), None
            )

        note = {
            "Note_Title": words.title,
            "Note_Content": f"{words.what}\n\nWhat to do: {words.todo}\n\n({marker})",
            "Parent_Id": {"module": {"api_name": INVOICES}, "id": invoice_id},
        }
        await _once(runtime, notice, "note", find_note, lambda: crm.insert_record(NOTES, note))
    if notice.task_id is None:
        subject = (
            f"{words.title}: invoice {invoice.get('Invoice_Number') or invoice_id} ({event_id})"
        )

        async def find_task() -> str | None:
            found = await crm.search_records(TASKS, crm.names.criterion(TASKS, "Subject", subject))
            return str(found[0]["id"]) if found else None

        owner = invoice.get("Owner")
        task: dict[str, Any] = {
            "Subject": subject[:255],
            "Description": f"{words.what}\n\nWhat to do: {words.todo}\n\n({marker})",
            "What_Id": {"id": invoice_id},
            "$se_module": INVOICES,
            "Status": "Not Started",
            "Priority": "High",
        }
        if isinstance(owner, dict) and owner.get("id"):
            task["Owner"] = {"id": str(owner["id"])}

        async def create_task() -> str:
            try:
                return await crm.insert_record(TASKS, task)
            except ZohoInvalidData as exc:
                if exc.details.get("api_name") != "Owner":
                    raise
            # The owner can no longer take tasks (deactivated): the task goes to the user
            # who authorized the extension rather than nowhere.
            return await crm.insert_record(TASKS, {k: v for k, v in task.items() if k != "Owner"})

        await _once(runtime, notice, "task", find_task, create_task)


async def _notice_row(
    runtime: Runtime, installation: Installation, change: PaymentChange, event_id: str
) -> PaymentNotice:
    assert change.invoice_id is not None
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            insert(PaymentNotice)
            .values(
                installation_id=installation.id,
                event_id=event_id,
                payment_id=change.id,
                invoice_id=change.invoice_id,
                note_started=False,
                task_started=False,
            )
            .on_conflict_do_nothing(index_elements=["installation_id", "event_id"])
        )
        notice = await session.scalar(
            select(PaymentNotice).where(
                PaymentNotice.installation_id == installation.id,
                PaymentNotice.event_id == event_id,
            )
        )
    assert notice is not None
    return notice


async def _once(
    runtime: Runtime,
    notice: PaymentNotice,
    kind: str,
    find: Callable[[], Awaitable[str | None]],
    create: Callable[[], Awaitable[str]],
) -> None:
    """Create the Note or Task unless an earlier attempt did; remember its id."""
    record_id = await find() if getattr(notice, f"{kind}_started") else None
    if record_id is None:
        await _set(runtime, notice, **{f"{kind}_started": True})
        record_id = await create()
    await _set(runtime, notice, **{f"{kind}_id": record_id})


async def _set(runtime: Runtime, notice: PaymentNotice, **values: Any) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(PaymentNotice).where(PaymentNotice.id == notice.id).values(**values)
        )
    for key, value in values.items():
        setattr(notice, key, value)
