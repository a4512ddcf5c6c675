"""Mandate lookup, one payment per invoice, and cancellation, through the HTTP API."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from app.models import InvoicePayment
from tests.invoices.conftest import CONTACT, INVOICE, FakeApis, Ready, invoice_record

PAYMENTS = f"/api/v1/invoices/{INVOICE}/payments"


async def test_popup_lists_the_contacts_mandates(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    response = await client.get(f"/api/v1/invoices/{INVOICE}/mandates", headers=ready.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["invoice"] == {
        "id": INVOICE,
        "number": "INV-001",
        "total": "120.50",
        "currency": "GBP",
        "contact": {"id": CONTACT, "name": "Jane Doe", "email": "Jane@Example.com"},
    }
    assert body["customer"] == {"id": "CU0001"}
    usable = {m["id"]: (m["currency"], m["usable"]) for m in body["mandates"]}
    # Usable means active and in the invoice's currency (GBP): the EUR mandate cannot pay it.
    assert usable == {"MD0001": ("GBP", True), "MDEUR1": ("EUR", False), "MDDEAD": ("GBP", False)}
    assert body["payments"] == [] and body["mandate_request"] is None


@pytest.mark.parametrize(
    ("invoice", "status", "code"),
    [
        (None, 404, "not_found"),
        (invoice_record(INVOICE, "INV-001", 10, "GBP", None), 422, "invoice_has_no_contact"),
    ],
)
async def test_popup_errors(
    client: httpx.AsyncClient,
    ready: Ready,
    apis: FakeApis,
    invoice: dict[str, object] | None,
    status: int,
    code: str,
) -> None:
    if invoice is None:
        apis.invoices.clear()
    else:
        apis.invoices[INVOICE] = invoice
    response = await client.get(f"/api/v1/invoices/{INVOICE}/mandates", headers=ready.headers)
    assert response.status_code == status and response.json()["code"] == code


async def test_proceed_creates_one_payment_and_writes_the_crm_at_once(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    response = await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    assert response.status_code == 201, response.text
    payment = response.json()["payment"]
    assert payment | {"id": None} == {
        "id": None,
        "status": "pending_submission",
        "amount": 12050,
        "currency": "GBP",
        "charge_date": "2026-12-07",
        "mandate_id": "MD0001",
        "invoice_id": INVOICE,
        "reference": None,
        "standing": "holds",
        "standing_reason": "the payment is collecting this invoice",
        "amount_refunded": 0,
    }
    created = apis.payments[payment["id"]]
    assert created["metadata"] == {
        "zoho_invoice_id": INVOICE,
        "zoho_org_id": "60012345678",
        "zoho_invoice_number": "INV-001",
    }
    assert created["description"] == "Invoice INV-001"
    record = apis.crm["GoCardless_Payments"][payment["id"]]
    assert record["Invoice"] == {"id": INVOICE}
    assert record["Amount"] == 120.5 and record["Status"] == "pending_submission"
    assert record["Customer"] == {"id": apis.crm["GoCardless_Customers"]["CU0001"]["id"]}
    again = await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    assert again.status_code == 200 and again.json()["payment"]["id"] == payment["id"]
    assert apis.creates == 1
    listed = await client.get(f"/api/v1/invoices/{INVOICE}/mandates", headers=ready.headers)
    assert [p["id"] for p in listed.json()["payments"]] == [payment["id"]]


async def test_twenty_parallel_clicks_make_one_payment(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    apis.create_delay = 0.2
    responses = await asyncio.gather(
        *(
            client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
            for _ in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["payment"]["id"] for r in responses}) == 1
    assert apis.creates == 1 and apis.calls("POST", "/payments") == 1


async def test_lost_answer_is_recovered_with_the_same_key(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    apis.lose_answers = 1
    response = await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    assert response.status_code == 201, response.text
    assert apis.creates == 1 and len(apis.payments) == 1


async def test_crash_between_gocardless_answer_and_commit_still_one_payment(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.services.invoice_payments as service

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("process died after GoCardless answered")

    with monkeypatch.context() as patch:
        patch.setattr(service, "store_payments", crash)
        failed = await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    assert failed.status_code == 500
    assert len(apis.payments) == 1
    async with ready.app.state.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(InvoicePayment)) == 0
    retried = await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    assert retried.status_code == 201
    assert retried.json()["payment"]["id"] == next(iter(apis.payments))
    assert apis.creates == 1 and len(apis.payments) == 1


@pytest.mark.parametrize(
    ("mandate_id", "invoice", "status", "code", "words"),
    [
        ("MDEUR1", None, 422, "currency_mismatch", "GBP but mandate MDEUR1"),
        ("MDDEAD", None, 409, "mandate_not_usable", "cancelled"),
        ("MDOTHER", None, 404, "mandate_not_found", "does not belong"),
        ("MDNOPE", None, 404, "mandate_not_found", "no mandate"),
        (
            "MD0001",
            invoice_record(INVOICE, "INV-001", 0, "GBP", CONTACT),
            422,
            "invalid_amount",
            "0",
        ),
        (
            "MD0001",
            invoice_record(INVOICE, "INV-001", "-5", "GBP", CONTACT),
            422,
            "invalid_amount",
            "-5",
        ),
        (
            "MD0001",
            invoice_record(INVOICE, "INV-001", "10.005", "GBP", CONTACT),
            422,
            "invalid_amount",
            "10.005",
        ),
        (
            "MD0001",
            invoice_record(INVOICE, "INV-001", "1000000000.00", "GBP", CONTACT),
            422,
            "invalid_amount",
            "more than a Direct Debit",
        ),
        (
            "MD0001",
            invoice_record(INVOICE, "INV-001", "1E+30", "GBP", CONTACT),
            422,
            "invalid_amount",
            "more than a Direct Debit",
        ),
        (
            "MD0001",
            invoice_record(INVOICE, "INV-001", "10", "JPY", CONTACT),
            422,
            "currency_mismatch",
            "JPY",
        ),
        (
            "MD0001",
            invoice_record(INVOICE, "INV-001", "10", "GBP", None),
            422,
            "invoice_has_no_contact",
            "contact",
        ),
    ],
)
async def test_bad_payments_are_refused_with_clear_problems(
    client: httpx.AsyncClient,
    ready: Ready,
    apis: FakeApis,
    mandate_id: str,
    invoice: dict[str, object] | None,
    status: int,
    code: str,
    words: str,
) -> None:
    if invoice is not None:
        apis.invoices[INVOICE] = invoice
    response = await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": mandate_id})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and words in body["detail"]
    assert apis.creates == 0


async def test_amounts_beyond_32_bits_are_kept_whole(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    apis.invoices[INVOICE] = invoice_record(INVOICE, "INV-001", "30000000.00", "GBP", CONTACT)
    response = await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    assert response.status_code == 201, response.text
    assert response.json()["payment"]["amount"] == 3_000_000_000
    async with ready.app.state.runtime.sessionmaker() as session:
        stored = await session.scalar(select(InvoicePayment.amount))
    assert stored == 3_000_000_000


async def test_charge_date_is_checked(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    early = await client.post(
        PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001", "charge_date": "2026-12-03"}
    )
    assert early.status_code == 422 and early.json()["code"] == "charge_date_not_allowed"
    assert early.json()["earliest_charge_date"] == "2026-12-04"
    past = await client.post(
        PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001", "charge_date": "2020-01-01"}
    )
    assert past.status_code == 422 and "past" in past.json()["detail"]
    bad = await client.post(
        PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001", "charge_date": "soon"}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
    ok = await client.post(
        PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001", "charge_date": "2026-12-10"}
    )
    assert ok.status_code == 201 and ok.json()["payment"]["charge_date"] == "2026-12-10"


async def test_cancel_frees_the_invoice_for_a_new_payment(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    first = (
        await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    ).json()["payment"]
    cancelled = await client.post(f"/api/v1/payments/{first['id']}/cancel", headers=ready.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["payment"]["status"] == "cancelled"
    assert apis.crm["GoCardless_Payments"][first["id"]]["Status"] == "cancelled"
    second = await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    assert second.status_code == 201 and second.json()["payment"]["id"] != first["id"]
    assert apis.creates == 2


async def test_cancel_after_submission_is_explained(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    payment = (
        await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    ).json()["payment"]
    apis.payments[payment["id"]]["status"] = "submitted"
    response = await client.post(f"/api/v1/payments/{payment['id']}/cancel", headers=ready.headers)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "payment_not_cancellable" and body["payment_status"] == "submitted"
    assert "already submitted to the bank for collection on 2026-12-07" in body["detail"]
    assert apis.calls("POST", "/actions/cancel") == 0
    # The popup now shows the status GoCardless reported.
    listed = await client.get(f"/api/v1/invoices/{INVOICE}/mandates", headers=ready.headers)
    assert listed.json()["payments"][0]["status"] == "submitted"


async def test_gocardless_refusing_the_cancel_is_the_same_answer(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    payment = (
        await client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
    ).json()["payment"]
    calls = 0

    def race(request: httpx.Request, payment_id: str) -> httpx.Response:
        nonlocal calls
        calls += 1
        apis.payments[payment_id]["status"] = "submitted"  # submitted between our read and cancel
        return httpx.Response(
            422,
            json={
                "error": {
                    "type": "invalid_state",
                    "code": 422,
                    "message": "x",
                    "request_id": "r",
                    "errors": [{"reason": "cancellation_failed", "message": "x"}],
                }
            },
        )

    apis.router.routes[1].side_effect = race
    response = await client.post(f"/api/v1/payments/{payment['id']}/cancel", headers=ready.headers)
    assert response.status_code == 409 and response.json()["payment_status"] == "submitted"
    assert calls == 1


async def test_cancel_unknown_payment_is_404(client: httpx.AsyncClient, ready: Ready) -> None:
    response = await client.post("/api/v1/payments/PM999999/cancel", headers=ready.headers)
    assert response.status_code == 404
    bad = await client.post("/api/v1/payments/not-an-id/cancel", headers=ready.headers)
    assert bad.status_code == 422
