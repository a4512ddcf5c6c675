"""Records API: validation and per-row results, limits, paging, search, namespaces."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.simulators.zoho.jsonio import dumps
from tests.simulators.zoho.conftest import Sim

CUSTOMERS = "GoCardless_Customers"
PAYMENTS = "GoCardless_Payments"


def payment(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "Name": f"PM{n:06d}",
        "GoCardless_Payment_ID": f"PM{n:06d}",
        "Amount": 12,
        "Currency": "GBP",
        "Status": "pending_submission",
        "Charge_Date": "2026-02-01",
        **extra,
    }


async def test_list_needs_fields(sim: Sim) -> None:
    answer = await sim.crm("GET", "/Contacts")
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "REQUIRED_PARAM_MISSING",
        "details": {"param_name": "fields"},
        "message": "required param is missing",
        "status": "error",
    }


async def test_token_problems(sim: Sim) -> None:
    bad = await sim.crm("GET", "/Contacts", token="1000.bad.bad", params={"fields": "Email"})
    assert (bad.status_code, bad.json()["code"]) == (401, "INVALID_TOKEN")
    missing = await sim.http.get("/crm/v8/Contacts", params={"fields": "Email"})
    assert (missing.status_code, missing.json()["code"]) == (401, "AUTHENTICATION_FAILURE")
    narrow = sim.mint(("ZohoCRM.modules.contacts.READ",))["access_token"]
    assert (
        await sim.crm("GET", "/Contacts", token=narrow, params={"fields": "Email"})
    ).status_code == 200
    for path in ("/Invoices/1", "/org", "/users?type=CurrentUser"):
        denied = await sim.crm("GET", path, token=narrow)
        assert (denied.status_code, denied.json()["code"]) == (401, "OAUTH_SCOPE_MISMATCH")


async def test_unknown_module(sim: Sim) -> None:
    answer = await sim.crm("GET", "/Nope", params={"fields": "Name"})
    assert answer.json()["code"] == "INVALID_MODULE"


async def test_more_than_100_records_is_refused(sim: Sim) -> None:
    answer = await sim.crm("POST", f"/{PAYMENTS}", json={"data": [payment(i) for i in range(101)]})
    assert answer.status_code == 400
    assert answer.json() == {
        "data": [
            {
                "code": "LIMIT_EXCEEDED",
                "details": {"maximum_length": 100, "api_name": "data"},
                "message": "count of records in your request exceeds the limit",
                "status": "error",
            }
        ]
    }
    assert len(sim.state.orgs[sim.org_id].store(PAYMENTS) or []) == 0


async def test_insert_answers_per_row(sim: Sim) -> None:
    contact_id = sim.seeded.contact_ids[0]
    answer = await sim.crm(
        "POST",
        f"/{CUSTOMERS}",
        json={
            "data": [
                {
                    "Name": "Jane Doe",
                    "Email": "jane.doe@example.com",
                    "GoCardless_Customer_ID": "CU1",
                    "Contact": {"id": contact_id},
                    "Created_At": "2026-01-02T10:00:00+00:00",
                },
            ],
            "trigger": [],
        },
    )
    assert answer.status_code == 201
    row = answer.json()["data"][0]
    assert (row["code"], row["status"], row["message"]) == ("SUCCESS", "success", "record added")
    record_id = row["details"]["id"]
    assert record_id.isdigit() and 18 <= len(record_id) <= 19
    assert set(row["details"]) == {
        "id",
        "Created_Time",
        "Modified_Time",
        "Created_By",
        "Modified_By",
    }
    read = (await sim.crm("GET", f"/{CUSTOMERS}/{record_id}")).json()["data"][0]
    assert read["Contact"] == {"name": "Jane Doe", "id": contact_id}
    assert read["Owner"]["id"] == sim.seeded.org.admin_user_id
    assert sim.state.counters["crm.write.trigger.none"] == 1


async def test_row_errors(sim: Sim) -> None:
    rows = [
        payment(1, Colour="red"),
        payment(2, Amount="12.50"),
        payment(3, Invoice={"id": "4150868000009999999"}),
        payment(4, Name="x" * 121),
        {k: v for k, v in payment(5).items() if k != "Name"},
        payment(6, Charge_Date="01/02/2026"),
    ]
    answer = await sim.crm("POST", f"/{PAYMENTS}", json={"data": rows})
    assert answer.status_code == 400
    data = answer.json()["data"]
    assert data[0] == {
        "code": "INVALID_DATA",
        "details": {"api_name": "Colour", "json_path": "$.data[0].Colour"},
        "message": "the field api name given seems to be invalid",
        "status": "error",
    }
    assert data[1]["details"] == {
        "expected_data_type": "currency",
        "api_name": "Amount",
        "json_path": "$.data[1].Amount",
    }
    assert data[2]["code"] == "INVALID_DATA"
    assert data[2]["details"]["api_name"] == "Invoice"
    assert data[3]["details"]["maximum_length"] == 120
    assert data[4] == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Name", "json_path": "$.data[4].Name"},
        "message": "required field not found",
        "status": "error",
    }
    assert data[5]["details"]["expected_data_type"] == "date"


async def test_duplicate_unique_value_on_insert(sim: Sim) -> None:
    first = await sim.crm("POST", f"/{PAYMENTS}", json={"data": [payment(1)]})
    assert first.status_code == 201
    again = await sim.crm("POST", f"/{PAYMENTS}", json={"data": [payment(1), payment(2)]})
    assert again.status_code == 207
    dup, ok = again.json()["data"]
    assert dup["code"] == "DUPLICATE_DATA"
    assert dup["details"]["api_name"] == "GoCardless_Payment_ID"
    assert dup["details"]["duplicate_record"]["id"] == first.json()["data"][0]["details"]["id"]
    assert ok["code"] == "SUCCESS"


async def test_mixed_upsert_is_207_then_updates(sim: Sim) -> None:
    body = {
        "data": [payment(1), payment(2, Amount=True)],
        "duplicate_check_fields": ["GoCardless_Payment_ID"],
    }
    answer = await sim.crm("POST", f"/{PAYMENTS}/upsert", json=body)
    assert answer.status_code == 207
    good, bad = answer.json()["data"]
    assert (good["code"], good["action"], good["duplicate_field"]) == ("SUCCESS", "insert", None)
    assert bad["code"] == "INVALID_DATA"

    again = await sim.crm(
        "POST",
        f"/{PAYMENTS}/upsert",
        content=dumps(
            {
                "data": [payment(1, Status="paid_out", Amount=Decimal("99.99"))],
                "duplicate_check_fields": ["GoCardless_Payment_ID"],
            }
        ),
    )
    assert again.status_code == 200
    row = again.json()["data"][0]
    assert (row["action"], row["duplicate_field"], row["message"]) == (
        "update",
        "GoCardless_Payment_ID",
        "record updated",
    )
    assert row["details"]["id"] == good["details"]["id"]
    read = await sim.crm("GET", f"/{PAYMENTS}/{good['details']['id']}")
    assert '"Amount":99.99,' in read.text
    assert read.json()["data"][0]["Status"] == "paid_out"


async def test_duplicate_check_fields_must_be_unique_fields(sim: Sim) -> None:
    answer = await sim.crm(
        "POST",
        f"/{PAYMENTS}/upsert",
        json={"data": [payment(1)], "duplicate_check_fields": ["Status"]},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_DATA"
    assert answer.json()["details"]["api_name"] == "Status"


async def test_update_by_id_and_bad_id(sim: Sim) -> None:
    created = await sim.crm("POST", f"/{PAYMENTS}", json={"data": [payment(1)]})
    record_id = created.json()["data"][0]["details"]["id"]
    answer = await sim.crm(
        "PUT",
        f"/{PAYMENTS}",
        json={
            "data": [
                {"id": record_id, "Status": "confirmed"},
                {"id": "4150868000000000001", "Status": "x"},
            ]
        },
    )
    assert answer.status_code == 207
    ok, bad = answer.json()["data"]
    assert ok["message"] == "record updated"
    assert bad["details"] == {"api_name": "id", "json_path": "$.data[1].id"}
    single = await sim.crm("PUT", f"/{PAYMENTS}/{record_id}", json={"data": [{"Name": ""}]})
    assert single.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"


async def test_missing_record_is_204(sim: Sim) -> None:
    assert (await sim.crm("GET", "/Contacts/4150868000000000001")).status_code == 204


async def _bulk_insert(sim: Sim, total: int) -> None:
    for start in range(0, total, 100):
        rows = [payment(n) for n in range(start, min(start + 100, total))]
        assert (await sim.crm("POST", f"/{PAYMENTS}", json={"data": rows})).status_code == 201


async def test_page_stops_at_2000_and_page_token_goes_on(sim: Sim) -> None:
    await _bulk_insert(sim, 2150)
    params = {"fields": "GoCardless_Payment_ID,Amount", "per_page": "200"}
    beyond = await sim.crm("GET", f"/{PAYMENTS}", params={**params, "page": "11"})
    assert beyond.status_code == 400
    assert beyond.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    assert beyond.json()["details"] == {"limit": 2000}

    seen: list[str] = []
    answer = await sim.crm("GET", f"/{PAYMENTS}", params=params)
    while True:
        body = answer.json()
        seen += [r["id"] for r in body["data"]]
        assert set(body["data"][0]) == {"GoCardless_Payment_ID", "Amount", "id"}
        if not body["info"]["more_records"]:
            break
        answer = await sim.crm(
            "GET", f"/{PAYMENTS}", params={**params, "page_token": body["info"]["next_page_token"]}
        )
    assert len(seen) == len(set(seen)) == 2150
    assert seen == sorted(seen, key=int, reverse=True)

    altered = await sim.crm(
        "GET",
        f"/{PAYMENTS}",
        params={"fields": "Amount", "page_token": body["info"]["next_page_token"] or "x"},
    )
    assert altered.json()["code"] == "TOKEN_BOUND_DATA_MISMATCH"


async def test_search(sim: Sim) -> None:
    await sim.crm(
        "POST",
        f"/{CUSTOMERS}",
        json={
            "data": [
                {"Name": "A (Ltd), x", "GoCardless_Customer_ID": "CU1", "Email": "a@x.com"},
                {"Name": "B", "GoCardless_Customer_ID": "CU2", "Email": "b@x.com"},
            ]
        },
    )
    found = await sim.crm(
        "GET", f"/{CUSTOMERS}/search", params={"criteria": r"(Name:equals:A \(Ltd\)\, x)"}
    )
    assert [r["GoCardless_Customer_ID"] for r in found.json()["data"]] == ["CU1"]
    either = await sim.crm(
        "GET",
        f"/{CUSTOMERS}/search",
        params={
            "criteria": "((GoCardless_Customer_ID:equals:CU1)or(GoCardless_Customer_ID:equals:cu2))"
        },
    )
    assert len(either.json()["data"]) == 2
    shared = await sim.crm("GET", "/Contacts/search", params={"email": "shared.inbox@example.com"})
    assert len(shared.json()["data"]) == 2
    none = await sim.crm("GET", "/Contacts/search", params={"criteria": "(Email:equals:no@x.com)"})
    assert none.status_code == 204
    broken = await sim.crm("GET", "/Contacts/search", params={"criteria": "Email:equals:x"})
    assert broken.json()["code"] == "INVALID_QUERY"


@pytest.mark.parametrize("sim_options", [{"namespace": "gocardless__"}])
async def test_namespace_prefixes_custom_modules_and_fields(sim: Sim) -> None:
    plain = await sim.crm("POST", f"/{CUSTOMERS}", json={"data": [{"Name": "x"}]})
    assert plain.json()["code"] == "INVALID_MODULE"
    answer = await sim.crm(
        "POST",
        "/gocardless__GoCardless_Customers/upsert",
        json={
            "data": [
                {
                    "Name": "Jane",
                    "Email": "j@x.com",
                    "gocardless__GoCardless_Customer_ID": "CU1",
                    "gocardless__Contact": {"id": sim.seeded.contact_ids[0]},
                }
            ],
            "duplicate_check_fields": ["gocardless__GoCardless_Customer_ID"],
        },
    )
    assert answer.status_code == 200
    fields = (
        await sim.crm(
            "GET", "/settings/fields", params={"module": "gocardless__GoCardless_Payments"}
        )
    ).json()["fields"]
    names = {f["api_name"] for f in fields}
    assert {"Name", "gocardless__GoCardless_Payment_ID", "gocardless__Customer"} <= names
    customer = next(f for f in fields if f["api_name"] == "gocardless__Customer")
    assert customer["lookup"]["module"]["api_name"] == "gocardless__GoCardless_Customers"
