"""Customers are re-listed periodically: detail changes GoCardless sends no event for reach the
mirror (and so the CRM), at ceil(n / 500) calls per installation and interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.models import EventCursor, GcCustomer
from app.services.reconciliation import (
    claim_due_reconciliations,
    reconcile_customers,
    reconcile_due_customers,
)
from tests.sync.simworld import SimWorld


async def _customers(world: SimWorld) -> dict[str, GcCustomer]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalars(select(GcCustomer))
        return {c.id: c for c in rows.all()}


async def test_a_changed_customer_reaches_the_mirror_and_the_crm_queue(sim_world: SimWorld) -> None:
    world = sim_world
    assert await reconcile_customers(world.runtime, world.installation_id) == 1  # 20 customers
    first = await _customers(world)
    assert len(first) == len(world.org.customers) == 20
    async with world.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(GcCustomer).values(crm_state="synced"))
    customer_id = next(iter(first))
    changed = await world.sim.put(
        f"/customers/{customer_id}", json={"customers": {"email": "new.address@example.com"}}
    )
    assert changed.status_code == 200, changed.text
    world.calls.clear()
    assert await reconcile_customers(world.runtime, world.installation_id) == 1
    assert [c.url.path for c in world.calls] == ["/customers"]
    assert world.calls[0].url.params["limit"] == "500"
    after = await _customers(world)
    assert after[customer_id].email == "new.address@example.com"
    assert after[customer_id].crm_state == "pending"
    # Unchanged customers are not pushed again.
    assert {c.crm_state for i, c in after.items() if i != customer_id} == {"synced"}


async def test_pages_of_500_cost_one_call_each(sim_world: SimWorld) -> None:
    world = sim_world
    for i in range(1000):
        created = await world.sim.post(
            "/customers", json={"customers": {"company_name": f"Payer {i}"}}
        )
        assert created.status_code == 201
    world.calls.clear()
    # 1,020 customers: ceil(1020 / 500) = 3 calls.
    assert await reconcile_customers(world.runtime, world.installation_id) == 3
    assert len(world.calls) == 3
    assert len(await _customers(world)) == 1020


async def test_each_installation_is_due_once_per_interval(sim_world: SimWorld) -> None:
    world = sim_world
    interval = timedelta(seconds=world.runtime.settings.customer_reconcile_interval_seconds)
    async with world.runtime.sessionmaker() as session:
        cursor = await session.get(EventCursor, world.installation_id)
    assert cursor is not None
    created = cursor.created_at
    # Right after Sync Now listed them, nothing is due.
    assert await claim_due_reconciliations(world.runtime, created + interval / 2) == []
    later = created + interval * 2
    assert await claim_due_reconciliations(world.runtime, later) == [world.installation_id]
    # A second process asking at the same moment finds it taken.
    assert await claim_due_reconciliations(world.runtime, later) == []
    assert await claim_due_reconciliations(world.runtime, later + interval / 2) == []
    assert await claim_due_reconciliations(world.runtime, later + interval * 1.5) == [
        world.installation_id
    ]


async def test_the_periodic_job_reconciles_what_is_due(sim_world: SimWorld) -> None:
    world = sim_world
    async with world.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(EventCursor).values(customers_reconciled_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    assert await reconcile_due_customers(world.runtime) == 1
    assert len(await _customers(world)) == 20
    assert await reconcile_due_customers(world.runtime) == 0
