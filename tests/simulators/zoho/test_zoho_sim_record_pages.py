"""The simulated CRM as a person sees it: list and record views of the extension's modules
with lookups as links, the module tabs, the consent page and the outbox."""

from __future__ import annotations

from typing import Any

from app.simulators.zoho.state import DEFAULT_CLIENT_ID
from tests.simulators.zoho.conftest import Sim


async def _upsert(sim: Sim, module: str, record: dict[str, Any], key: str) -> str:
    answer = await sim.crm(
        "POST", f"/{module}/upsert", json={"data": [record], "duplicate_check_fields": [key]}
    )
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["data"][0]["details"]["id"])


async def test_gocardless_records_have_list_and_record_views_with_lookup_links(sim: Sim) -> None:
    contact, invoice = sim.seeded.contact_ids[0], sim.seeded.invoice_ids[0]
    customer = await _upsert(
        sim,
        "GoCardless_Customers",
        {
            "Name": "Jane Doe",
            "Email": "jane.doe@example.com",
            "GoCardless_Customer_ID": "CU0001",
            "Contact": {"id": contact},
        },
        "GoCardless_Customer_ID",
    )
    payment = await _upsert(
        sim,
        "GoCardless_Payments",
        {
            "Name": "INV-000001",
            "GoCardless_Payment_ID": "PM0001",
            "Amount": 120.0,
            "Currency": "GBP",
            "Status": "pending_submission",
            "Customer": {"id": customer},
            "Invoice": {"id": invoice},
        },
        "GoCardless_Payment_ID",
    )

    listing = await sim.http.get("/_sim/crm/modules/GoCardless_Payments")
    assert listing.status_code == 200 and listing.headers["content-type"].startswith("text/html")
    assert "<h1>GoCardless Payments</h1>" in listing.text and "1 record." in listing.text
    assert f"href='/_sim/crm/modules/GoCardless_Payments/{payment}'>INV-000001</a>" in listing.text
    assert f"href='/_sim/crm/modules/GoCardless_Customers/{customer}'>Jane Doe</a>" in listing.text
    assert f"href='/_sim/crm/invoices/{invoice}'>" in listing.text

    record = await sim.http.get(f"/_sim/crm/modules/GoCardless_Payments/{payment}")
    assert record.status_code == 200
    assert "INV-000001" in record.text and "pending_submission" in record.text
    assert f"/_sim/crm/modules/GoCardless_Customers/{customer}" in record.text

    customer_page = await sim.http.get(f"/_sim/crm/modules/GoCardless_Customers/{customer}")
    assert f"href='/_sim/crm/modules/Contacts/{contact}'>Jane Doe</a>" in customer_page.text
    contact_page = await sim.http.get(f"/_sim/crm/modules/Contacts/{contact}")
    assert contact_page.status_code == 200 and "jane.doe@example.com" in contact_page.text
    # Every CRM page links to the extension's modules.
    invoices = await sim.http.get("/_sim/crm")
    assert "href='/_sim/crm/modules/GoCardless_Payments'" in invoices.text
    assert "href='/_sim/crm/modules/GoCardless_Customers'" in invoices.text


async def test_unknown_modules_and_records_are_404(sim: Sim) -> None:
    assert (await sim.http.get("/_sim/crm/modules/Nope")).status_code == 404
    missing = await sim.http.get("/_sim/crm/modules/GoCardless_Payments/1")
    assert missing.status_code == 404


async def test_an_empty_module_says_so(sim: Sim) -> None:
    listing = await sim.http.get("/_sim/crm/modules/GoCardless_Customers")
    assert "No GoCardless Customers yet." in listing.text


async def test_the_consent_page_names_the_application(sim: Sim) -> None:
    sim.state.accounts.register_client(
        "1000.DEMO", "secret", "http://app.test/cb", name="GoCardless for Zoho CRM"
    )
    consent = await sim.http.get(
        "/oauth/v2/auth",
        params={
            "client_id": "1000.DEMO",
            "response_type": "code",
            "redirect_uri": "http://app.test/cb",
            "scope": "ZohoCRM.org.READ",
        },
    )
    assert "<h1>Authorize GoCardless for Zoho CRM</h1>" in consent.text
    assert "1000.DEMO" not in consent.text.split("<form")[0]
    unnamed = await sim.http.get(
        "/oauth/v2/auth",
        params={
            "client_id": DEFAULT_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": "http://127.0.0.1:8000/oauth/zoho/callback",
            "scope": "ZohoCRM.org.READ",
        },
    )
    assert "<h1>Authorize Zoho API client</h1>" in unnamed.text


async def test_the_simulator_has_a_favicon(sim: Sim) -> None:
    icon = await sim.http.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
