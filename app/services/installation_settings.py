"""An installation's settings: auto-collect on a new mandate, and invoice reconciliation.

Reconciliation sets the Invoice's Status to a value of the org's own Status picklist (orgs
configure it), so each value is checked against Zoho's field metadata before it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.names import INVOICES
from app.errors import AppError, ZohoNotAuthorized
from app.models import Installation

CollectedOn = Literal["confirmed", "paid_out"]
_UNSET = object()


class InvoiceStatusNotInPicklist(AppError):
    status, code, title = (
        422,
        "invoice_status_not_in_picklist",
        "Not a value of the Invoice Status picklist",
    )


@dataclass(frozen=True)
class SettingsChange:
    """What a PATCH asked for; a field left out of the body is left as it is."""

    auto_collect_on_mandate: bool | None = None
    collected: str | object | None = _UNSET
    collected_on: CollectedOn | None = None
    failed: str | object | None = _UNSET


async def apply_settings(
    installation: Installation, crm: ZohoCRM | None, change: SettingsChange
) -> None:
    statuses = {
        "invoice_status_on_collection": change.collected,
        "invoice_status_on_failure": change.failed,
    }
    wanted = {name: v for name, v in statuses.items() if isinstance(v, str)}
    if wanted:
        if crm is None:
            raise ZohoNotAuthorized(
                "the Invoice Status values are checked against Zoho CRM: authorize it first"
            )
        allowed = await crm.picklist_values(INVOICES, "Status") or []
        for name, value in wanted.items():
            if value not in allowed:
                raise InvoiceStatusNotInPicklist(
                    f"{value!r} is not a value of the Invoice Status picklist",
                    field=name,
                    value=value,
                    allowed=allowed,
                )
    if change.auto_collect_on_mandate is not None:
        installation.auto_collect_on_mandate = change.auto_collect_on_mandate
    if change.collected is not _UNSET:
        installation.invoice_status_collected = _text(change.collected)
    if change.failed is not _UNSET:
        installation.invoice_status_failed = _text(change.failed)
    if change.collected_on is not None:
        installation.invoice_status_collected_on = change.collected_on


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
