"""An installation's settings: auto-collect on a new mandate, and invoice reconciliation.

Reconciliation sets the Invoice's Status to a value of the org's own Status picklist (orgs
configure it), so each value is checked against Zoho's field metadata before it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.names import INVOICES
from app.errors import AppError, ZohoNotAuthorized
from app.models import Installation

CollectedOn = Literal["confirmed", "paid_out"]
# The request's names of the two Status values, and the installation's columns for them.
STATUS_SETTINGS = {
    "invoice_status_on_collection": "invoice_status_collected",
    "invoice_status_on_failure": "invoice_status_failed",
}


class InvoiceStatusNotInPicklist(AppError):
    status, code, title = (
        422,
        "invoice_status_not_in_picklist",
        "Not a value of the Invoice Status picklist",
    )


@dataclass(frozen=True)
class SettingsChange:
    """What a PATCH asked for; a setting left out of the body is left as it is."""

    auto_collect_on_mandate: bool | None = None
    collected_on: CollectedOn | None = None
    # Only the Status settings sent, by request name; None switches one off.
    statuses: Mapping[str, str | None] = field(default_factory=dict)


async def apply_settings(
    installation: Installation, crm: ZohoCRM | None, change: SettingsChange
) -> None:
    wanted = {name: value for name, value in change.statuses.items() if value is not None}
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
    if change.collected_on is not None:
        installation.invoice_status_collected_on = change.collected_on
    for name, setting in change.statuses.items():
        setattr(installation, STATUS_SETTINGS[name], setting)
