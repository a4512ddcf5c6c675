"""Setup links that stop working are never emailed as they stand: a request GoCardless gave
up (`failed`) or whose page the payer left (`flow_exited`) is closed here; a re-send renews
the link (a new flow) or makes a new request, also when the event has not been processed yet;
and the widget is told when a link expires. Against both simulators."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from app.models import MandateRequest
from tests.e2e.harness import GOCARDLESS, World, settle
from tests.e2e.merchant import Merchant
from tests.e2e.test_invoice_payers import invoice_id, popup, ready
from tests.foundation.conftest import Installed

SUBJECT = "Shared services"


async def send(world: World, installed: Installed) -> dict[str, Any]:
    response = await world.client.post(
        f"/api/v1/invoices/{invoice_id(world, SUBJECT)}/mandate-requests",
        headers=world.widget_headers(installed),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()["mandate_request"]
    assert body["status"] == "pending"
    assert body["authorisation_url"] in world.zoho.outbox[-1].content
    return body


def flow_id(request: dict[str, Any]) -> str:
    return parse_qs(urlsplit(request["authorisation_url"]).query)["id"][0]


def billing_request(world: World, request: dict[str, Any]) -> Any:
    flow = world.merchant.flows.get(flow_id(request))
    assert flow is not None
    return world.merchant.billing_requests.get(flow.billing_request)


async def time_passes(world: World, **delta: float) -> None:
    # Past the one-email-per-invoice interval, at least.
    async with Merchant(world) as bank:
        await bank.http.post(f"{GOCARDLESS}/_sim/clock/advance", json={"minutes": 11, **delta})


async def statuses(world: World) -> list[str]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalars(select(MandateRequest).order_by(MandateRequest.created_at))
        return [r.status for r in rows]


async def started(world: World) -> Installed:
    installed = await ready(world)
    # Expiry and the email interval are judged on the simulated bank's clock.
    world.runtime.clock = world.gocardless.clock.now
    return installed


async def test_the_link_says_when_it_expires_and_a_resend_near_then_renews_it(
    world: World,
) -> None:
    installed = await started(world)
    first = await send(world, installed)
    expires = datetime.fromisoformat(first["expires_at"])
    assert expires - world.gocardless.clock.now() > timedelta(days=6)
    shown = (await popup(world, installed, invoice_id(world, SUBJECT)))["mandate_request"]
    assert shown["expires_at"] == first["expires_at"]

    await time_passes(world)
    same = await send(world, installed)
    assert same["authorisation_url"] == first["authorisation_url"]

    await time_passes(world, days=6.5)
    renewed = await send(world, installed)
    assert renewed["authorisation_url"] != first["authorisation_url"]
    assert datetime.fromisoformat(renewed["expires_at"]) > expires
    assert billing_request(world, renewed).id == billing_request(world, first).id


async def test_a_payer_who_left_the_page_gets_a_new_link_for_the_same_request(
    world: World,
) -> None:
    installed = await started(world)
    first = await send(world, installed)
    async with Merchant(world) as payer:
        left = await payer.http.get(
            f"{GOCARDLESS}/billing/static/flow/exit", params={"id": flow_id(first)}
        )
    assert left.status_code == 303, left.text
    await settle(world)
    assert await statuses(world) == ["exited"]
    assert (await popup(world, installed, invoice_id(world, SUBJECT)))["mandate_request"] is None

    await time_passes(world)
    again = await send(world, installed)
    assert again["authorisation_url"] != first["authorisation_url"]
    assert billing_request(world, again).id == billing_request(world, first).id
    assert await statuses(world) == ["pending"]


async def test_a_failed_request_is_closed_and_a_resend_makes_a_new_one(world: World) -> None:
    installed = await started(world)
    first = await send(world, installed)
    gone = billing_request(world, first)
    async with Merchant(world) as bank:
        failed = await bank.http.post(f"{GOCARDLESS}/_sim/billing_requests/{gone.id}/fail")
    assert failed.status_code == 200, failed.text
    await settle(world)
    assert await statuses(world) == ["failed"]
    assert (await popup(world, installed, invoice_id(world, SUBJECT)))["mandate_request"] is None

    await time_passes(world)
    again = await send(world, installed)
    assert billing_request(world, again).id != gone.id
    assert await statuses(world) == ["failed", "pending"]


async def test_a_dead_link_is_not_emailed_before_its_event_is_processed(world: World) -> None:
    installed = await started(world)
    first = await send(world, installed)
    gone = billing_request(world, first)
    async with Merchant(world) as bank:
        await bank.http.post(f"{GOCARDLESS}/_sim/billing_requests/{gone.id}/fail")
    # No settle: our copy still says pending; GoCardless, asked, says it is over.
    await time_passes(world)
    again = await send(world, installed)
    assert billing_request(world, again).id != gone.id
    assert again["authorisation_url"] != first["authorisation_url"]
    await settle(world)
    assert sorted(await statuses(world)) == ["cancelled", "pending"]
