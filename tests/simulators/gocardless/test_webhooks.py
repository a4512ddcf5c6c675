"""Signed webhooks: batching, retries, the delivery log, and the chaos switches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gocardless_pro import webhooks as official_webhooks
from gocardless_pro.errors import InvalidSignatureError

from app.simulators.gocardless.app import create_app
from app.simulators.gocardless.seed import seed_organisation
from app.simulators.gocardless.webhooks import sign

from .conftest import FIXTURES, VERSION, Sim, build_state, fixture
from .test_billing import complete, new_flow, new_request

SECRET = "whsec-simulated"
HOOK = "http://receiver.test/webhooks/gocardless"


class Receiver:
    """A webhook endpoint that checks signatures with the official client's parser."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.failures_left = 0
        self.webhooks: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.failures_left:
            self.failures_left -= 1
            return httpx.Response(500)
        try:
            parsed = official_webhooks.parse_with_meta(
                request.content, self.secret, request.headers["Webhook-Signature"]
            )
        except InvalidSignatureError:
            return httpx.Response(498)
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Origin"] == "https://api-sandbox.gocardless.com"
        self.webhooks.append(
            {"id": parsed.webhook_id, "events": [e.attributes for e in parsed.events]}
        )
        return httpx.Response(204)

    def events(self) -> list[dict[str, Any]]:
        return [event for hook in self.webhooks for event in hook["events"]]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def hooked(receiver: Receiver) -> AsyncIterator[Sim]:
    state = build_state(webhook_transport=httpx.MockTransport(receiver.handle))
    org = state.create_organisation(name="Hooked Ltd")
    seed_organisation(state, org, customers=20, seed=5)
    token = state.issue_token(org.id)
    transport = httpx.ASGITransport(app=create_app(state))
    headers = {"Authorization": f"Bearer {token.token}", **VERSION}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gc.sim", headers=headers
    ) as client:
        sim = Sim(state, org, client)
        endpoint = await client.post(
            "/_sim/webhook-endpoints", json={"url": HOOK, "secret": SECRET}
        )
        assert endpoint.status_code == 201
        await client.post("/_sim/clock/advance", json={"seconds": 1})
        await drain(sim)
        await client.delete("/_sim/webhooks")
        receiver.webhooks.clear()
        yield sim
    await state.dispatcher.aclose()


def quiet_mandate(sim: Sim) -> str:
    """An active mandate whose cancellation emits one event (no payments to cancel)."""
    for mandate in sim.org.mandates.newest_first():
        payments = [
            sim.org.payments.get(i) for i in sim.org.payments.ids_for("mandate", mandate.id)
        ]
        if mandate.status == "active" and all(
            p is not None and p.status != "pending_submission" for p in payments
        ):
            return mandate.id
    raise LookupError("no quiet mandate seeded")


async def drain(sim: Sim) -> list[dict[str, Any]]:
    response = await sim.client.post("/_sim/webhooks/drain", params={"timeout_seconds": 5})
    assert response.status_code == 200
    log: list[dict[str, Any]] = (await sim.client.get("/_sim/webhooks")).json()
    return log


def test_signature_matches_the_official_vector() -> None:
    vector = fixture("webhook_signature_vector.json")
    body = (FIXTURES / vector["body_file"]).read_bytes().rstrip(b"\n")
    assert sign(body, vector["webhook_endpoint_secret"]) == vector["webhook_signature"]
    assert (
        sign(body, vector["negative_case"]["webhook_endpoint_secret"])
        != vector["webhook_signature"]
    )


async def test_flow_completion_is_signed_and_batched(hooked: Sim, receiver: Receiver) -> None:
    flow = await new_flow(hooked, (await new_request(hooked))["id"])
    assert (await complete(hooked, flow)).status_code == 303
    log = await drain(hooked)
    actions = [(e["resource_type"], e["action"]) for e in receiver.events()]
    assert actions[-2:] == [("mandates", "created"), ("billing_requests", "fulfilled")]
    assert ("billing_requests", "flow_visited") in actions
    assert all(e["links"]["organisation"] == hooked.org.id for e in receiver.events())
    assert all(hook["id"].startswith("WB") for hook in receiver.webhooks)
    assert len(receiver.webhooks) < len(actions)  # events created together share a webhook
    assert {d["state"] for d in log} == {"delivered"}
    fulfilled = receiver.events()[-1]
    assert fulfilled["links"]["mandate_request_mandate"].startswith("MD")


async def test_failed_deliveries_are_retried(hooked: Sim, receiver: Receiver) -> None:
    receiver.failures_left = 2
    await hooked.client.post(f"/mandates/{quiet_mandate(hooked)}/actions/cancel")
    (delivery,) = await drain(hooked)
    assert delivery["state"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 204]
    assert [e["action"] for e in receiver.events()] == ["cancelled"]


async def test_wrong_secret_is_refused_then_given_up(hooked: Sim, receiver: Receiver) -> None:
    receiver.secret = "another-secret"
    await hooked.client.post(f"/mandates/{quiet_mandate(hooked)}/actions/cancel")
    (delivery,) = await drain(hooked)
    assert delivery["state"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [498, 498, 498]


async def test_dropped_webhooks_leave_events_to_heal_from(hooked: Sim, receiver: Receiver) -> None:
    await hooked.client.put(
        "/_sim/webhook-delivery", json={"drop_rate": 1.0, "batch_window_seconds": 0}
    )
    mandate = quiet_mandate(hooked)
    await hooked.client.post(f"/mandates/{mandate}/actions/cancel")
    log = await drain(hooked)
    assert receiver.webhooks == []
    assert [d["state"] for d in log] == ["dropped"]
    events = (await hooked.client.get("/events", params={"mandate": mandate})).json()["events"]
    assert [e["action"] for e in events] == ["cancelled"]


async def test_duplicates_keep_the_event_id(hooked: Sim, receiver: Receiver) -> None:
    await hooked.client.put(
        "/_sim/webhook-delivery", json={"duplicate_rate": 1.0, "batch_window_seconds": 0}
    )
    await hooked.client.post(f"/mandates/{quiet_mandate(hooked)}/actions/cancel")
    await drain(hooked)
    ids = [e["id"] for e in receiver.events()]
    assert len(ids) == 2 and len(set(ids)) == 1


async def test_reordered_delivery(hooked: Sim, receiver: Receiver) -> None:
    await hooked.client.put("/_sim/webhook-delivery", json={"reorder": True})
    created = []
    for _ in range(12):
        mandate = quiet_mandate(hooked)
        created.append(mandate)
        await hooked.client.post(f"/mandates/{mandate}/actions/cancel")
    await drain(hooked)
    received = [e["links"]["mandate"] for e in receiver.events()]
    assert sorted(received) == sorted(created)
    assert received != created
    assert all(len(hook["events"]) == 1 for hook in receiver.webhooks)


async def test_endpoints_only_get_their_organisations_events(hooked: Sim) -> None:
    other = hooked.state.create_organisation(name="Other Ltd")
    token = hooked.state.issue_token(other.id).token
    scoped_url = "http://receiver.test/other"
    await hooked.client.post(
        "/_sim/webhook-endpoints",
        json={"url": scoped_url, "secret": SECRET, "organisation_id": other.id},
    )
    body = {"billing_requests": {"mandate_request": {"currency": "GBP"}}}
    await hooked.client.post("/billing_requests", json=body)
    await drain(hooked)
    await hooked.client.post(
        "/billing_requests", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    log = await drain(hooked)
    # The app's endpoint hears from every organisation, the scoped one only from its own.
    assert [d["url"] for d in log] == [HOOK, HOOK, scoped_url]
    assert {d["state"] for d in log} == {"delivered"}


async def test_disconnect_notice_has_a_null_id(hooked: Sim, receiver: Receiver) -> None:
    await hooked.client.post(f"/_sim/organisations/{hooked.org.id}/disconnect")
    await drain(hooked)
    (event,) = receiver.events()
    assert (event["id"], event["resource_type"], event["action"]) == (
        None,
        "organisations",
        "disconnected",
    )
    assert event["details"]["cause"] == "app_disconnected"
