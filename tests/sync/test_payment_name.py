"""`Name` of a GoCardless_Payments record: one rule for every scheme (README, contract notes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.models import GcPayment
from app.services.crm.batches import payment_record


def _payment(reference: str | None, metadata: dict[str, str]) -> GcPayment:
    return GcPayment(
        id="PM000123",
        amount=12_000,
        amount_refunded=0,
        currency="GBP",
        status="pending_submission",
        reference=reference,
        gc_metadata=metadata,
        fetched_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("reference", "metadata", "name"),
    [
        # Bacs: no reference may be set, the invoice number still names the record.
        (None, {"zoho_invoice_number": "INV-000001"}, "INV-000001"),
        # SEPA: the invoice number is also the bank reference; the same name.
        ("INV-000002", {"zoho_invoice_number": "INV-000002"}, "INV-000002"),
        # Made outside the CRM: its reference when it has one, else its id.
        ("ACME-77", {}, "ACME-77"),
        (None, {}, "PM000123"),
    ],
)
def test_payment_name(reference: str | None, metadata: dict[str, str], name: str) -> None:
    assert payment_record(_payment(reference, metadata), None)["Name"] == name
