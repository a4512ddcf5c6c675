"""Org, users and metadata endpoints."""

from __future__ import annotations

from tests.simulators.zoho.conftest import Sim


async def test_org(sim: Sim) -> None:
    org = (await sim.crm("GET", "/org")).json()["org"][0]
    assert org["id"] == sim.org_id
    assert (org["iso_code"], org["mc_status"]) == ("GBP", True)


async def test_users_carry_profiles(sim: Sim) -> None:
    org = sim.seeded.org
    current = (await sim.crm("GET", "/users", params={"type": "CurrentUser"})).json()["users"]
    assert [u["id"] for u in current] == [org.admin_user_id]
    assert current[0]["profile"]["name"] == "Administrator"
    everyone = (await sim.crm("GET", "/users", params={"type": "AllUsers"})).json()["users"]
    by_profile = {u["last_name"]: (u["profile"]["name"], u["status"]) for u in everyone}
    assert by_profile == {
        "Admin": ("Administrator", "active"),
        "Standard": ("Standard", "active"),
        "Departed": ("Standard", "disabled"),
    }
    standard = next(u for u in everyone if u["last_name"] == "Standard")
    one = (await sim.crm("GET", f"/users/{standard['id']}")).json()["users"][0]
    assert one["profile"] == standard["profile"]
    assert (await sim.crm("GET", "/users/4150868000000000001")).status_code == 204
    bad = await sim.crm("GET", "/users", params={"type": "Everyone"})
    assert bad.json()["code"] == "INVALID_DATA"


async def test_modules_and_fields(sim: Sim) -> None:
    modules = (await sim.crm("GET", "/settings/modules")).json()["modules"]
    names = {m["api_name"]: m["generated_type"] for m in modules}
    assert names == {
        "Contacts": "default",
        "Invoices": "default",
        "GoCardless_Customers": "custom",
        "GoCardless_Payments": "custom",
        "Notes": "default",
        "Tasks": "default",
    }
    fields = (
        await sim.crm("GET", "/settings/fields", params={"module": "GoCardless_Customers"})
    ).json()["fields"]
    by_name = {f["api_name"]: f for f in fields}
    assert by_name["GoCardless_Customer_ID"]["unique"] != {}
    assert by_name["Email"]["unique"] == {}
    assert by_name["Contact"]["lookup"]["module"]["api_name"] == "Contacts"
    assert by_name["Name"]["system_mandatory"] is True
    missing = await sim.crm("GET", "/settings/fields")
    assert missing.json()["code"] == "REQUIRED_PARAM_MISSING"
    unknown = await sim.crm("GET", "/settings/fields", params={"module": "Nope"})
    assert unknown.json()["code"] == "INVALID_MODULE"


async def test_invoices_read_back_with_currency_and_contact(sim: Sim) -> None:
    invoice_id = sim.seeded.invoice_ids[1]
    answer = await sim.crm("GET", f"/Invoices/{invoice_id}")
    invoice = answer.json()["data"][0]
    assert (invoice["Currency"], invoice["$currency_symbol"]) == ("EUR", "€")
    assert '"Grand_Total":250.50' in answer.text
    assert invoice["Contact_Name"] == {"name": "John Smith", "id": sim.seeded.contact_ids[1]}
    assert invoice["Invoice_Number"].startswith("INV-")
