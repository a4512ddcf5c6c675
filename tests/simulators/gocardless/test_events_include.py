"""`GET /events?include=…`: a page of events with the current state of what they name."""

from __future__ import annotations

import pytest

from app.adapters.gocardless import GoCardlessClient
from tests.simulators.gocardless.conftest import Sim


async def _payment(sim: Sim) -> str:
    body = {"payments": {"amount": 900, "currency": "GBP", "links": {"mandate": sim.mandate()}}}
    created = await sim.client.post("/payments", json=body)
    assert created.status_code == 201
    payment_id: str = created.json()["payments"]["id"]
    return payment_id


async def test_linked_payments_are_current_and_listed_once(sim: Sim) -> None:
    payment_id = await _payment(sim)
    moved = await sim.client.post(f"/_sim/payments/{payment_id}/status", json={"status": "failed"})
    assert moved.status_code == 200
    answer = await sim.client.get(
        "/events",
        params={"resource_type": "payments", "include": "payment", "limit": 500},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    mine = [e for e in body["events"] if e["links"]["payment"] == payment_id]
    assert {e["action"] for e in mine} >= {"created", "failed"}
    assert {e["resource_type"] for e in body["events"]} == {"payments"}
    linked = body["linked"]["payments"]
    named = {e["links"]["payment"] for e in body["events"]}
    assert sorted(p["id"] for p in linked) == sorted(named)
    # Two events for the payment, one current resource: the status after both.
    assert [p["status"] for p in linked if p["id"] == payment_id] == ["failed"]


async def test_pages_of_500_cover_every_event_once(sim: Sim) -> None:
    for _ in range(3):
        await _payment(sim)
    seen: list[str] = []
    after = None
    while True:
        params = {"resource_type": "payments", "include": "payment", "limit": 2}
        if after:
            params["after"] = after
        body = (await sim.client.get("/events", params=params)).json()
        seen += [e["id"] for e in body["events"]]
        assert {p["id"] for p in body["linked"]["payments"]} == {
            e["links"]["payment"] for e in body["events"]
        }
        after = body["meta"]["cursors"]["after"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) >= 3
    too_many = await sim.client.get(
        "/events", params={"resource_type": "payments", "include": "payment", "limit": 501}
    )
    assert too_many.status_code == 422


@pytest.mark.parametrize(
    ("resource_type", "include", "resource_id"),
    [
        ("mandates", "mandate", "mandate"),
        ("creditors", "creditor", "creditor"),
    ],
)
async def test_other_kinds_link_their_current_resource(
    sim: Sim, resource_type: str, include: str, resource_id: str
) -> None:
    await sim.client.post(f"/mandates/{sim.mandate()}/actions/cancel")
    await sim.client.put(
        f"/_sim/organisations/{sim.org.id}/verification", json={"status": "in_review"}
    )
    body = (
        await sim.client.get("/events", params={"resource_type": resource_type, "include": include})
    ).json()
    assert body["events"]
    assert {r["id"] for r in body["linked"][resource_type]} == {
        e["links"][resource_id] for e in body["events"]
    }


async def test_customers_and_unmodelled_kinds_answer_a_list(sim: Sim) -> None:
    for include in ("customer", "payout", "subscription"):
        answer = await sim.client.get(
            "/events", params={"resource_type": f"{include}s", "include": include}
        )
        assert answer.status_code == 200
        assert answer.json()["linked"] == {f"{include}s": []}


@pytest.mark.parametrize(
    "params",
    [
        {"include": "payment"},
        {"include": "payment", "resource_type": "mandates"},
        {"include": "bank_account", "resource_type": "bank_accounts"},
    ],
)
async def test_include_must_name_the_resource_type(sim: Sim, params: dict[str, str]) -> None:
    answer = await sim.client.get("/events", params=params)
    assert answer.status_code == 422
    assert answer.json()["error"]["errors"][0]["field"] == "include"


async def test_the_adapter_reads_the_simulators_linked_resources(sim: Sim) -> None:
    payment_id = await _payment(sim)
    token = sim.client.headers["Authorization"].removeprefix("Bearer ")
    client = GoCardlessClient(sim.client, api_url="http://gc.sim", access_token=token)
    page = await client.list_events_page_including(
        None, resource_type="payments", include="payment"
    )
    assert page.items and {e.resource_type for e in page.items} == {"payments"}
    current = {p.id: p for p in page.linked.payments}
    assert current[payment_id].status == "pending_submission"
    assert current[payment_id].links.mandate == sim.mandate()
