"""What a payment asks GoCardless for: the charge date defaults to the invoice's due date when
GoCardless can still collect on it, and an amount outside the scheme's bounds is refused with
the bound named. Through our HTTP API, against both simulators."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.simulators.gocardless.formats import roll_forward
from tests.e2e.test_invoice_retries import Collecting, collecting  # noqa: F401  (fixture)


def _invoice(collecting: Collecting) -> dict[str, Any]:  # noqa: F811
    invoices = collecting.world.crm_org.store("Invoices")
    assert invoices is not None
    record: dict[str, Any] = invoices.records[collecting.invoice_id]
    return record


def _today(collecting: Collecting) -> date:  # noqa: F811
    # Our rules read the same clock as the simulated bank, which tests move on.
    world = collecting.world
    world.runtime.clock = world.gocardless.clock.now
    return world.gocardless.clock.now().date()


def _earliest(collecting: Collecting) -> date:  # noqa: F811
    mandate = collecting.world.merchant.mandates.get(collecting.mandate_id)
    assert mandate is not None
    from app.simulators.gocardless import lifecycle

    earliest = lifecycle.next_possible_charge_date(collecting.world.gocardless, mandate)
    assert earliest is not None
    return earliest


async def test_the_due_date_is_the_charge_date_when_it_is_late_enough(
    collecting: Collecting,  # noqa: F811
) -> None:
    due = roll_forward(_today(collecting) + timedelta(days=20))
    _invoice(collecting)["Due_Date"] = due.isoformat()
    created = await collecting.pay()
    assert created.status_code == 201, created.text
    assert created.json()["payment"]["charge_date"] == due.isoformat()
    (payment,) = collecting.world.merchant.payments.newest_first()
    assert payment.charge_date == due


@pytest.mark.parametrize("days", [-3, 1], ids=["overdue", "too-soon"])
async def test_an_early_due_date_collects_as_soon_as_possible(
    collecting: Collecting,  # noqa: F811
    days: int,
) -> None:
    _invoice(collecting)["Due_Date"] = (_today(collecting) + timedelta(days=days)).isoformat()
    earliest = _earliest(collecting)
    created = await collecting.pay()
    assert created.status_code == 201, created.text
    assert created.json()["payment"]["charge_date"] == earliest.isoformat()


async def test_a_chosen_charge_date_wins_over_the_due_date(
    collecting: Collecting,  # noqa: F811
) -> None:
    today = _today(collecting)
    _invoice(collecting)["Due_Date"] = roll_forward(today + timedelta(days=30)).isoformat()
    chosen = roll_forward(today + timedelta(days=12))
    created = await collecting.pay(charge_date=chosen.isoformat())
    assert created.status_code == 201, created.text
    assert created.json()["payment"]["charge_date"] == chosen.isoformat()


@pytest.mark.parametrize(
    ("total", "code", "bound", "named"),
    [
        (Decimal("5000.01"), "amount_above_scheme_maximum", {"limit": "5000.00"}, "£5,000.00"),
        (Decimal("0.99"), "amount_below_scheme_minimum", {"minimum": "1.00"}, "£1.00"),
    ],
    ids=["above-limit", "below-minimum"],
)
async def test_an_amount_outside_the_schemes_bounds_is_refused_naming_them(
    collecting: Collecting,  # noqa: F811
    total: Decimal,
    code: str,
    bound: dict[str, str],
    named: str,
) -> None:
    _invoice(collecting)["Grand_Total"] = total
    refused = await collecting.pay()
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == code
    assert problem | bound == problem and (problem["scheme"], problem["currency"]) == (
        "bacs",
        "GBP",
    )
    assert named in problem["detail"] and "Bacs" in problem["detail"]
    assert problem["gocardless_errors"][0]["field"] == "amount"
    assert list(collecting.world.merchant.payments.newest_first()) == []
    # Nothing holds the invoice: a corrected total collects at once.
    _invoice(collecting)["Grand_Total"] = Decimal("4999.99")
    assert (await collecting.pay()).status_code == 201
