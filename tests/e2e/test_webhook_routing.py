"""Which installation a webhook's events go to: found at once for a newly connected
organisation, and forgotten soon after the connection is removed."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import InboxEvent
from tests.e2e.harness import World, authorize_gocardless, authorize_zoho, deliver_webhooks
from tests.e2e.merchant import Merchant
from tests.foundation.conftest import install


async def stored(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


async def payer_signs_up(merchant: Merchant, n: int) -> None:
    await merchant.new_customer(given_name="Route", family_name=f"Test{n}", email=f"r{n}@x.org")
    await deliver_webhooks(merchant.world)


async def test_events_follow_the_connection(world: World) -> None:
    merchant = Merchant(world)
    installed = await install(world.client, org_id=world.crm_org.id)
    await authorize_zoho(world, installed)

    await payer_signs_up(merchant, 1)
    assert await stored(world) == 0  # not connected yet: acknowledged and dropped

    await authorize_gocardless(world, installed)
    await payer_signs_up(merchant, 2)
    assert await stored(world) > 0  # served from the first webhook after connecting
    after_connect = await stored(world)

    response = await world.client.delete(
        "/api/v1/installation", headers=world.widget_headers(installed)
    )
    assert response.status_code == 204
    await payer_signs_up(merchant, 3)
    assert await stored(world) == 0 < after_connect  # uninstall emptied the inbox; none since
    await merchant.aclose()
