"""Injected faults, the per-org concurrency limit, unknown URLs and the demo CRM pages."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.simulators.zoho.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.simulators.zoho.conftest import Sim


async def test_injected_errors_are_counted_down(sim: Sim) -> None:
    await sim.http.post("/_sim/faults", json={"status": 500, "count": 1})
    await sim.http.post("/_sim/faults", json={"status": 429, "count": 1, "path_contains": "/users"})
    failed = await sim.crm("GET", "/org")
    assert (failed.status_code, failed.json()["code"]) == (500, "INTERNAL_ERROR")
    assert (await sim.crm("GET", "/org")).status_code == 200
    limited = await sim.crm("GET", "/users", params={"type": "AllUsers"})
    assert (limited.status_code, limited.json()["code"]) == (429, "TOO_MANY_REQUESTS")
    assert "retry-after" not in limited.headers
    assert (await sim.http.get("/_sim/faults")).json() == []


async def test_latency_and_hangs(sim: Sim) -> None:
    await sim.http.post("/_sim/faults", json={"latency_ms": 80, "count": 1})
    started = time.monotonic()
    assert (await sim.crm("GET", "/org")).status_code == 200
    assert time.monotonic() - started >= 0.08
    await sim.http.post("/_sim/faults", json={"hang_seconds": 0.05, "count": 1})
    assert (await sim.crm("GET", "/org")).status_code == 504


async def test_accounts_faults(sim: Sim) -> None:
    await sim.http.post("/_sim/faults", json={"target": "accounts", "status": 503})
    answer = await sim.http.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "refresh_token": "x",
        },
    )
    assert answer.status_code == 503
    assert (await sim.crm("GET", "/org")).status_code == 200
    assert (await sim.http.delete("/_sim/faults")).status_code == 204


@pytest.mark.parametrize("sim_options", [{"concurrency_limit": 2}])
async def test_concurrency_limit_per_org(sim: Sim) -> None:
    await sim.http.post("/_sim/faults", json={"latency_ms": 150})
    other_org = (await sim.http.post("/_sim/seed", json={})).json()["org_id"]
    other = sim.mint(org_id=other_org)["access_token"]
    answers = await asyncio.gather(
        sim.crm("GET", "/org"),
        sim.crm("GET", "/org"),
        sim.crm("GET", "/org"),
        sim.crm("GET", "/org", token=other),
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 200, 429]
    rejected = next(a for a in answers if a.status_code == 429)
    assert rejected.json()["code"] == "TOO_MANY_REQUESTS"
    assert "retry-after" not in rejected.headers


async def test_unknown_crm_url(sim: Sim) -> None:
    answer = await sim.crm("GET", "/Contacts/1/nothing/here")
    assert (answer.status_code, answer.json()["code"]) == (404, "INVALID_URL_PATTERN")


async def test_crm_invoice_pages(sim: Sim) -> None:
    sim.state.options.widget_url = "http://widget.test/app/widget.html"
    listing = await sim.http.get("/_sim/crm")
    invoice_id = sim.seeded.invoice_ids[0]
    assert f"/_sim/crm/invoices/{invoice_id}" in listing.text
    org = sim.seeded.org
    standard = next(u.id for u in org.users.values() if u.last_name == "Standard")
    page = await sim.http.get(f"/_sim/crm/invoices/{invoice_id}", params={"user_id": standard})
    assert page.status_code == 200
    text = page.text
    assert "Send Invoice - GoCardless" in text and "Cancel Payment - GoCardless" in text
    assert (
        f"http://widget.test/app/widget.html?invoice_id={invoice_id}&amp;user_id={standard}" in text
    )
    assert "120.00 GBP" in text and "Jane Doe" in text
    assert (await sim.http.get("/_sim/crm/invoices/1")).status_code == 404
