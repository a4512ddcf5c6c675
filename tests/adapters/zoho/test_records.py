"""Records API: get, page_token listing, search, batched upsert with per-record outcomes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoError, ZohoInvalidData
from app.adapters.zoho.models import FailedRecord, UpsertedRecord
from app.adapters.zoho.names import CUSTOMERS, PAYMENTS

from .conftest import zoho_error

CUSTOMERS_API = "/gocardless__GoCardless_Customers"
PAYMENTS_API = "/gocardless__GoCardless_Payments"


def zoho_id(n: int) -> str:
    return str(4150868000000000000 + n)


async def test_get_record_maps_names_both_ways(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    route = zoho.get(f"{PAYMENTS_API}/{zoho_id(7)}").respond(
        200,
        content=b'{"data":[{"id":"4150868000000000007","Name":"PM0001","gocardless__Amount":12.34,'
        b'"gocardless__Currency":"GBP","gocardless__Customer":{"id":"4150868000000000001","name":"Bob"}}]}',
    )
    record = await crm.get_record(PAYMENTS, zoho_id(7), ["Name", "Amount", "Customer"])
    assert route.calls.last.request.url.params["fields"] == (
        "Name,gocardless__Amount,gocardless__Customer"
    )
    assert record == {
        "id": "4150868000000000007",
        "Name": "PM0001",
        "Amount": Decimal("12.34"),
        "Currency": "GBP",
        "Customer": {"id": "4150868000000000001", "name": "Bob"},
    }


async def test_standard_modules_are_not_renamed(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    route = zoho.get(f"/Invoices/{zoho_id(9)}").respond(
        200, json={"data": [{"id": zoho_id(9), "Grand_Total": 10, "Contact_Name": None}]}
    )
    record = await crm.get_record("Invoices", zoho_id(9), ["Grand_Total", "Contact_Name"])
    assert route.calls.last.request.url.params["fields"] == "Grand_Total,Contact_Name"
    assert record == {"id": zoho_id(9), "Grand_Total": 10, "Contact_Name": None}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(204),
        zoho_error(404, "INVALID_URL_PATTERN"),
        zoho_error(400, "INVALID_DATA", "the related id given seems to be invalid"),
        zoho_error(400, "INVALID_DATA", "invalid id", api_name="id"),
    ],
    ids=["204", "404", "invalid-id", "invalid-id-named"],
)
async def test_get_record_not_found_is_none(
    crm: ZohoCRM, zoho: respx.MockRouter, answer: httpx.Response
) -> None:
    zoho.get(f"/Invoices/{zoho_id(1)}").mock(return_value=answer)
    assert await crm.get_record("Invoices", zoho_id(1)) is None


async def test_get_record_bad_field_is_an_error(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.get(f"/Invoices/{zoho_id(1)}").mock(
        return_value=zoho_error(400, "INVALID_DATA", "invalid field", api_name="Nope")
    )
    with pytest.raises(ZohoInvalidData):
        await crm.get_record("Invoices", zoho_id(1), ["Nope"])


@pytest.mark.parametrize(
    "bad_id",
    ["", "abc", "123/../../org", "1 OR 1", "4150868000000000001x", "4150868000000000001\n"],
)
async def test_get_record_never_sends_a_non_numeric_id(
    crm: ZohoCRM, zoho: respx.MockRouter, bad_id: str
) -> None:
    route = zoho.route().respond(500)
    assert await crm.get_record("Invoices", bad_id) is None
    assert route.call_count == 0


async def test_iter_records_follows_page_tokens_past_2000(
    crm: ZohoCRM, zoho: respx.MockRouter
) -> None:
    total = 2450

    def page(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "page" in params and int(params["page"]) > 10:
            return zoho_error(
                400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "limit exceeded", limit=2000
            )
        number = int(params["page_token"].removeprefix("tok")) if "page_token" in params else 0
        start = number * 200
        rows = [
            {"id": zoho_id(n), "gocardless__GoCardless_Customer_ID": f"CU{n:05d}"}
            for n in range(start, min(start + 200, total))
        ]
        more = start + 200 < total
        info: dict[str, Any] = {"per_page": 200, "count": len(rows), "more_records": more}
        info["next_page_token"] = f"tok{number + 1}" if more else None
        return httpx.Response(200, json={"data": rows, "info": info})

    route = zoho.get(CUSTOMERS_API).mock(side_effect=page)
    records = [r async for r in crm.iter_records(CUSTOMERS, ["GoCardless_Customer_ID"])]
    assert len(records) == total
    assert len({r["id"] for r in records}) == total
    assert all(isinstance(r["id"], str) for r in records)
    assert records[-1] == {"id": zoho_id(total - 1), "GoCardless_Customer_ID": f"CU{total - 1:05d}"}
    assert route.call_count == 13
    first, *rest = (call.request.url.params for call in route.calls)
    assert first["fields"] == "gocardless__GoCardless_Customer_ID"
    assert first["per_page"] == "200"
    assert "page_token" not in first
    assert [p["page_token"] for p in rest] == [f"tok{n}" for n in range(1, 13)]
    assert not any("page" in p for p in rest)


async def test_iter_records_empty_module(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.get("/Contacts").respond(204)
    assert [r async for r in crm.iter_records("Contacts", ["Email"])] == []


async def test_iter_records_refuses_to_stop_silently(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.get("/Contacts").respond(
        200, json={"data": [{"id": zoho_id(1)}], "info": {"more_records": True}}
    )
    with pytest.raises(ZohoError, match="page token"):
        [r async for r in crm.iter_records("Contacts", ["Email"])]


@pytest.mark.parametrize("count", [0, 51])
async def test_iter_records_needs_1_to_50_fields(crm: ZohoCRM, count: int) -> None:
    with pytest.raises(ValueError, match="fields"):
        [r async for r in crm.iter_records("Contacts", [f"F{i}" for i in range(count)])]


async def test_search_by_criteria_is_escaped_and_mapped(
    crm: ZohoCRM, zoho: respx.MockRouter
) -> None:
    route = zoho.get(f"{CUSTOMERS_API}/search").respond(
        200,
        json={
            "data": [{"id": zoho_id(3), "gocardless__Company_Name": "Smith (Trading), Ltd"}],
            "info": {"more_records": False},
        },
    )
    criteria = crm.names.criterion(CUSTOMERS, "Company_Name", "Smith (Trading), Ltd")
    found = await crm.search_records(CUSTOMERS, criteria)
    assert route.calls.last.request.url.params["criteria"] == (
        r"(gocardless__Company_Name:equals:Smith \(Trading\)\, Ltd)"
    )
    assert found == [{"id": zoho_id(3), "Company_Name": "Smith (Trading), Ltd"}]


async def test_search_nothing_found_is_204(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.get("/Contacts/search").respond(204)
    assert await crm.search_by_email("Contacts", "nobody@example.test") == []


async def test_search_by_email_pages_up_to_zohos_2000_limit(
    crm: ZohoCRM, zoho: respx.MockRouter
) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        rows = [{"id": zoho_id(number * 1000 + i), "Email": "a@b.test"} for i in range(200)]
        return httpx.Response(200, json={"data": rows, "info": {"more_records": True}})

    route = zoho.get("/Contacts/search").mock(side_effect=page)
    found = await crm.search_by_email("Contacts", "a@b.test")
    assert len(found) == 2000
    assert route.call_count == 10
    assert route.calls.last.request.url.params["email"] == "a@b.test"


def success(n: int, action: str = "insert") -> dict[str, Any]:
    return {
        "code": "SUCCESS",
        "duplicate_field": None if action == "insert" else "gocardless__GoCardless_Payment_ID",
        "action": action,
        "details": {"Modified_Time": "2024-05-01T10:00:00+01:00", "id": zoho_id(n)},
        "message": "record added" if action == "insert" else "record updated",
        "status": "success",
    }


def failure(code: str, api_name: str, index: int) -> dict[str, Any]:
    return {
        "code": code,
        "details": {"api_name": api_name, "json_path": f"$.data[{index}].{api_name}"},
        "message": "invalid data",
        "status": "error",
    }


def payment(n: int) -> dict[str, Any]:
    return {
        "Name": f"PM{n:04d}",
        "GoCardless_Payment_ID": f"PM{n:04d}",
        "Amount": Decimal("1234.50"),
        "Currency": "GBP",
        "Charge_Date": date(2024, 5, 3),
        "Customer": zoho_id(1),
    }


async def test_upsert_batches_and_reports_every_record(
    crm: ZohoCRM, zoho: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["data"]
        if len(sent) == 100:
            return httpx.Response(200, json={"data": [success(i) for i in range(100)]})
        rows = [
            success(100, "update"),
            failure("INVALID_DATA", "gocardless__Currency", 1),
            success(102),
            failure("DUPLICATE_DATA", "gocardless__GoCardless_Payment_ID", 3),
            failure("MANDATORY_NOT_FOUND", "Name", 4),
        ]
        return httpx.Response(207, json={"data": rows})

    route = zoho.post(f"{PAYMENTS_API}/upsert").mock(side_effect=answer)
    outcome = await crm.upsert_records(
        PAYMENTS, [payment(n) for n in range(105)], ["GoCardless_Payment_ID"]
    )
    assert route.call_count == 2
    assert [r.index for r in outcome.results] == list(range(105))
    assert len(outcome.succeeded) == 102
    assert not outcome.all_ok
    assert outcome.results[100] == UpsertedRecord(
        index=100, id=zoho_id(100), action="update", duplicate_field="GoCardless_Payment_ID"
    )
    assert outcome.results[0] == UpsertedRecord(index=0, id=zoho_id(0), action="insert")
    assert [(f.index, f.code, f.field) for f in outcome.failed] == [
        (101, "INVALID_DATA", "Currency"),
        (103, "DUPLICATE_DATA", "GoCardless_Payment_ID"),
        (104, "MANDATORY_NOT_FOUND", "Name"),
    ]
    assert outcome.failed[0].details["json_path"] == "$.data[1].gocardless__Currency"


async def test_upsert_wire_format(make_crm: Any, zoho: respx.MockRouter) -> None:
    crm = make_crm(triggers=["workflow", "blueprint"])
    route = zoho.post(f"{CUSTOMERS_API}/upsert").respond(200, json={"data": [success(1)]})
    await crm.upsert_records(
        CUSTOMERS,
        [
            {
                "Name": "Bob Smith",
                "Email": "bob@example.test",
                "GoCardless_Customer_ID": "CU0001",
                "Contact": zoho_id(5),
                "Created_At": datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=UTC),
            }
        ],
        ["GoCardless_Customer_ID"],
    )
    body = json.loads(route.calls.last.request.content)
    assert body == {
        "data": [
            {
                "Name": "Bob Smith",
                "Email": "bob@example.test",
                "gocardless__GoCardless_Customer_ID": "CU0001",
                "gocardless__Contact": {"id": zoho_id(5)},
                "gocardless__Created_At": "2024-05-01T09:30:15+00:00",
            }
        ],
        "duplicate_check_fields": ["gocardless__GoCardless_Customer_ID"],
        "trigger": ["workflow", "blueprint"],
    }
    assert route.calls.last.request.headers["content-type"] == "application/json"


async def test_upsert_amount_goes_out_exactly(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    route = zoho.post(f"{PAYMENTS_API}/upsert").respond(200, json={"data": [success(1)]})
    await crm.upsert_records(PAYMENTS, [payment(1)], ["GoCardless_Payment_ID"])
    raw = route.calls.last.request.content
    assert b'"gocardless__Amount":1234.5,' in raw
    assert b'"gocardless__Charge_Date":"2024-05-03"' in raw
    assert b'"gocardless__Customer":{"id":"4150868000000000001"}' in raw


async def test_upsert_refuses_an_amount_json_would_round(crm: ZohoCRM) -> None:
    record = {**payment(1), "Amount": Decimal("12345678901234567.89")}
    with pytest.raises(ValueError, match="rounding"):
        await crm.upsert_records(PAYMENTS, [record], ["GoCardless_Payment_ID"])


async def test_upsert_all_rows_rejected_with_http_400(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.post(f"{PAYMENTS_API}/upsert").respond(
        400, json={"data": [failure("INVALID_DATA", "gocardless__Amount", 0)]}
    )
    outcome = await crm.upsert_records(PAYMENTS, [payment(1)], ["GoCardless_Payment_ID"])
    assert outcome.results == [
        FailedRecord(
            index=0,
            code="INVALID_DATA",
            message="invalid data",
            details={"api_name": "gocardless__Amount", "json_path": "$.data[0].gocardless__Amount"},
            field="Amount",
        )
    ]


async def test_upsert_whole_request_rejected_raises(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.post(f"{PAYMENTS_API}/upsert").mock(
        return_value=zoho_error(400, "INVALID_DATA", "invalid duplicate_check_fields")
    )
    with pytest.raises(ZohoInvalidData):
        await crm.upsert_records(PAYMENTS, [payment(1)], ["GoCardless_Payment_ID"])


async def test_upsert_missing_rows_are_failures_not_silence(
    crm: ZohoCRM, zoho: respx.MockRouter
) -> None:
    zoho.post(f"{PAYMENTS_API}/upsert").respond(
        200, json={"data": [success(1), {"status": "success", "code": "SUCCESS", "details": {}}]}
    )
    outcome = await crm.upsert_records(
        PAYMENTS, [payment(n) for n in range(3)], ["GoCardless_Payment_ID"]
    )
    assert [type(r).__name__ for r in outcome.results] == [
        "UpsertedRecord",
        "FailedRecord",
        "FailedRecord",
    ]
    assert [f.code for f in outcome.failed] == ["NO_RECORD_ID", "NO_RESULT"]


async def test_upsert_nothing_makes_no_call(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    route = zoho.route().respond(500)
    outcome = await crm.upsert_records(PAYMENTS, [], ["GoCardless_Payment_ID"])
    assert outcome.results == []
    assert route.call_count == 0
