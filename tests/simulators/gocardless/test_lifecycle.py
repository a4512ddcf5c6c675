"""Paging, filters, tenancy, and the status machines with the events they emit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .conftest import Sim


async def walk(sim: Sim, path: str, **params: Any) -> list[dict[str, Any]]:
    envelope = path.strip("/")
    items: list[dict[str, Any]] = []
    after = None
    while True:
        query = {**params, **({"after": after} if after else {})}
        body = (await sim.client.get(path, params=query)).json()
        items += body[envelope]
        after = body["meta"]["cursors"]["after"]
        if after is None:
            return items


async def test_cursor_pages_cover_everything_once_newest_first(sim: Sim) -> None:
    customers = await walk(sim, "/customers", limit=7)
    ids = [c["id"] for c in customers]
    assert len(ids) == len(set(ids)) == len(sim.org.customers)
    stamps = [c["created_at"] for c in customers]
    assert stamps == sorted(stamps, reverse=True)
    first = (await sim.client.get("/customers", params={"limit": 7})).json()
    second = (
        await sim.client.get(
            "/customers", params={"limit": 7, "after": first["meta"]["cursors"]["after"]}
        )
    ).json()
    assert first["meta"]["cursors"]["before"] is None
    assert second["meta"] == {
        "cursors": {"before": second["customers"][0]["id"], "after": second["customers"][-1]["id"]},
        "limit": 7,
    }
    back = (
        await sim.client.get(
            "/customers", params={"limit": 7, "before": second["customers"][0]["id"]}
        )
    ).json()
    assert [c["id"] for c in back["customers"]] == [c["id"] for c in first["customers"]]
    assert back["meta"]["cursors"]["before"] is None


async def test_default_limit_is_50(sim: Sim) -> None:
    body = (await sim.client.get("/customers")).json()
    assert body["meta"]["limit"] == 50 and len(body["customers"]) == 50


async def test_payment_and_mandate_filters(sim: Sim) -> None:
    mandate = sim.org.mandates.get(sim.mandate())
    assert mandate is not None
    by_mandate = await walk(sim, "/payments", mandate=mandate.id)
    by_customer = await walk(sim, "/payments", customer=mandate.customer)
    assert {p["links"]["mandate"] for p in by_mandate} <= {mandate.id}
    assert {p["id"] for p in by_mandate} <= {p["id"] for p in by_customer}
    paid = await walk(sim, "/payments", status="paid_out", limit=500)
    assert paid and {p["status"] for p in paid} == {"paid_out"}
    mandates = await walk(sim, "/mandates", customer=mandate.customer, status="active,submitted")
    assert mandate.id in {m["id"] for m in mandates}
    assert {m["status"] for m in mandates} <= {"active", "submitted"}


async def test_created_at_and_charge_date_ranges(sim: Sim) -> None:
    everything = await walk(sim, "/payments", limit=500)
    middle = sorted(p["created_at"] for p in everything)[len(everything) // 2]
    newer = await walk(sim, "/payments", limit=500, **{"created_at[gt]": middle})
    assert newer and all(p["created_at"] > middle for p in newer)
    assert len(newer) < len(everything)
    dated = await walk(sim, "/payments", **{"charge_date[gte]": "2026-03-01"})
    assert all(p["charge_date"] >= "2026-03-01" for p in dated)


async def test_sorted_payments(sim: Sim) -> None:
    body = (
        await sim.client.get(
            "/payments", params={"sort_field": "amount", "sort_direction": "asc", "limit": 20}
        )
    ).json()
    amounts = [p["amount"] for p in body["payments"]]
    assert amounts == sorted(amounts)


async def test_organisations_see_only_their_own_data(sim: Sim) -> None:
    other = sim.state.create_organisation(name="Other Ltd")
    token = sim.state.issue_token(other.id).token
    headers = {"Authorization": f"Bearer {token}"}
    customer_id = next(sim.org.customers.newest_first()).id
    assert (await sim.client.get(f"/customers/{customer_id}", headers=headers)).status_code == 404
    listed = (await sim.client.get("/customers", headers=headers)).json()
    assert listed["customers"] == []
    creditors = (await sim.client.get("/creditors", headers=headers)).json()["creditors"]
    assert [c["id"] for c in creditors] == [other.creditor.id]
    foreign = await sim.client.post(
        "/payments",
        json={"payments": {"amount": 1, "currency": "GBP", "links": {"mandate": sim.mandate()}}},
        headers=headers,
    )
    assert foreign.status_code == 400


async def events_for(sim: Sim, **params: str) -> list[dict[str, Any]]:
    body = (await sim.client.get("/events", params={"limit": 500, **params})).json()
    return list(reversed(body["events"]))  # oldest first


async def test_payment_runs_to_paid_out_with_events(sim: Sim) -> None:
    created = await sim.client.post(
        "/payments",
        json={
            "payments": {
                "amount": 4200,
                "currency": "GBP",
                "links": {"mandate": sim.mandate()},
                "metadata": {"invoice_id": "42"},
            }
        },
    )
    payment = created.json()["payments"]
    moved = await sim.client.post("/_sim/clock/advance", json={"days": 10})
    assert moved.json()["events_emitted"] >= 3
    final = (await sim.client.get(f"/payments/{payment['id']}")).json()["payments"]
    assert final["status"] == "paid_out"
    events = await events_for(sim, payment=payment["id"])
    assert [e["action"] for e in events] == ["created", "submitted", "confirmed", "paid_out"]
    stamps = [e["created_at"] for e in events]
    assert stamps == sorted(stamps)
    for event in events:
        assert event["links"]["organisation"] == sim.org.id
        assert event["resource_metadata"] == {"invoice_id": "42"}
        assert {"origin", "cause", "description"} <= set(event["details"])
    assert events[1]["details"]["cause"] == "payment_submitted"


async def test_failures_late_failures_and_chargebacks(sim: Sim) -> None:
    sim.state.failure_rate = 1.0
    created = await sim.client.post(
        "/payments",
        json={"payments": {"amount": 100, "currency": "GBP", "links": {"mandate": sim.mandate()}}},
    )
    payment_id = created.json()["payments"]["id"]
    await sim.client.post("/_sim/clock/advance", json={"days": 10})
    failed = (await sim.client.get(f"/payments/{payment_id}")).json()["payments"]
    assert failed["status"] == "failed"
    failure = (await events_for(sim, payment=payment_id, action="failed"))[0]
    assert failure["details"]["origin"] == "bank"
    assert failure["details"]["scheme"] == "bacs"
    retried = await sim.client.post(
        f"/payments/{payment_id}/actions/retry", json={"data": {"metadata": {"why": "asked"}}}
    )
    assert retried.json()["payments"]["status"] == "pending_submission"
    resubmission = (await events_for(sim, payment=payment_id, action="resubmission_requested"))[0]
    assert resubmission["metadata"] == {"why": "asked"}

    paid = next(p for p in sim.org.payments.newest_first() if p.status == "paid_out")
    late = await sim.client.post(f"/_sim/payments/{paid.id}/status", json={"status": "failed"})
    assert late.json()["status"] == "failed"
    other = next(p for p in sim.org.payments.newest_first() if p.status == "paid_out")
    back = await sim.client.post(
        f"/_sim/payments/{other.id}/status", json={"status": "charged_back"}
    )
    assert back.json()["status"] == "charged_back"
    refused = await sim.client.post(
        f"/_sim/payments/{other.id}/status", json={"status": "paid_out"}
    )
    assert refused.status_code == 409


async def test_mandate_cancellation_cancels_pending_payments(sim: Sim) -> None:
    mandate = sim.mandate()
    created = await sim.client.post(
        "/payments",
        json={"payments": {"amount": 100, "currency": "GBP", "links": {"mandate": mandate}}},
    )
    payment_id = created.json()["payments"]["id"]
    await sim.client.post(
        f"/mandates/{mandate}/actions/cancel", json={"data": {"metadata": {"a": "b"}}}
    )
    payment = (await sim.client.get(f"/payments/{payment_id}")).json()["payments"]
    assert payment["status"] == "cancelled"
    (mandate_event,) = await events_for(sim, mandate=mandate, action="cancelled")
    assert mandate_event["metadata"] == {"a": "b"}
    (payment_event,) = await events_for(sim, payment=payment_id, action="cancelled")
    assert payment_event["links"]["parent_event"] == mandate_event["id"]
    assert payment_event["details"]["cause"] == "mandate_cancelled"


async def test_admin_moves_mandates_and_creditor_verification(sim: Sim) -> None:
    mandate = sim.mandate()
    expired = await sim.client.post(f"/_sim/mandates/{mandate}/status", json={"status": "expired"})
    assert expired.json()["status"] == "expired"
    assert expired.json()["next_possible_charge_date"] is None
    verification = await sim.client.put(
        f"/_sim/organisations/{sim.org.id}/verification", json={"status": "action_required"}
    )
    assert verification.status_code == 200
    creditor = (await sim.client.get("/creditors")).json()["creditors"][0]
    assert creditor["verification_status"] == "action_required"
    (event,) = await events_for(sim, resource_type="creditors")
    assert event["details"]["property"] == "verification_status"


async def test_time_passes_lazily_on_api_calls(sim: Sim) -> None:
    created = await sim.client.post(
        "/payments",
        json={"payments": {"amount": 100, "currency": "GBP", "links": {"mandate": sim.mandate()}}},
    )
    payment_id = created.json()["payments"]["id"]
    sim.state.clock.advance(timedelta(days=10))
    payment = (await sim.client.get(f"/payments/{payment_id}")).json()["payments"]
    assert payment["status"] == "paid_out"
