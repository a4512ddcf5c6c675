"""A world for Schemathesis to call in-process: our service, both simulators, a real installation.

Schemathesis's ASGI transport runs every request (and the application's lifespan) on one
event loop thread of its own. asyncpg connections belong to the loop that opened them, so
the database engine, the simulators and the seeding must live on that loop too: the
lifespan of `FuzzWorld` builds them there, and `reset()` runs set-up on that loop from the
test thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.conftest import TEST_DATABASE_URL
from tests.e2e.harness import World, connect, open_world, settle, sync_now
from tests.e2e.merchant import Merchant
from tests.foundation.conftest import Installed

T = TypeVar("T")


@dataclass(frozen=True)
class Seeded:
    """Ids that exist in this world, for the cases that should reach past the lookups."""

    organisation: str  # the connected GoCardless merchant
    invoices: list[str]  # every CRM invoice: paid, payable, wrong currency, no email, ...
    mandates: list[str]  # Jane's Bacs mandate (GBP), John's SEPA mandate (EUR)
    payments: list[str]  # pending (cancellable) and failed (retryable)
    invoice_statuses: list[str]  # the org's Invoice Status picklist


Message = dict[str, Any]


class FuzzWorld:
    """An ASGI application: the service of a freshly connected world, rebuilt by `reset()`."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.engine: AsyncEngine | None = None
        self.world: World | None = None
        self.installed: Installed | None = None
        self._stack: AsyncExitStack | None = None
        self.seeded: Seeded | None = None

    # -- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self.world is not None, "the world is built at lifespan start-up"
        await self.world.service(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.loop = asyncio.get_running_loop()
                # Nothing here must survive a crash: commits need not wait for the disk.
                self.engine = create_async_engine(
                    TEST_DATABASE_URL,
                    pool_size=5,
                    connect_args={"server_settings": {"synchronous_commit": "off"}},
                )
                await self._build()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._close()
                assert self.engine is not None
                await self.engine.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the world ----------------------------------------------------------------------

    async def _build(self) -> None:
        assert self.engine is not None
        await truncate(self.engine)
        self._stack = AsyncExitStack()
        world = await self._stack.enter_async_context(open_world(self.engine))
        installed = await connect(world)
        assert (await sync_now(world, installed))["state"] == "succeeded"
        self.world, self.installed = world, installed
        self.seeded = await _seed(world, installed)

    async def _close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        self.world = self.installed = self.seeded = None
        assert self.engine is not None
        await truncate(self.engine)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run on the world's loop from the test thread."""
        assert self.loop is not None, "start the lifespan first"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def reset(self) -> None:
        """A fresh world: the previous operation may have uninstalled or disconnected."""

        async def rebuild() -> None:
            await self._close()
            await self._build()

        self.run(rebuild())

    @property
    def api_key(self) -> str:
        assert self.installed is not None
        return self.installed.api_key


async def _seed(world: World, installed: Installed) -> Seeded:
    """Jane (GBP) and John (EUR) with active mandates; Jane's GBP invoice collecting, John's
    EUR invoice failed at the bank (so it may be retried)."""
    async with Merchant(world) as merchant:
        jane = await merchant.new_customer(
            given_name="Jane", family_name="Doe", email="jane.doe@example.com"
        )
        john = await merchant.new_customer(
            given_name="John", family_name="Smith", email="john.smith@example.com", currency="EUR"
        )
        await merchant.days_pass(10)
        await settle(world)
        invoices = world.crm_org.store("Invoices")
        assert invoices is not None
        by_subject = {r["Subject"]: str(r["id"]) for r in invoices.records.values()}
        payments = []
        for subject, mandate in (("Website redesign", jane), ("Consulting March", john)):
            created = await world.client.post(
                f"/api/v1/invoices/{by_subject[subject]}/payments",
                headers=installed.headers(),
                json={"mandate_id": mandate},
            )
            assert created.status_code == 201, created.text
            payments.append(created.json()["payment"]["id"])
        await merchant.bank_moves_payment(payments[1], "failed")
    await settle(world)
    status = invoices.module.field_named("Status")
    assert status is not None
    return Seeded(
        world.merchant.id,
        sorted(by_subject.values()),
        [jane, john],
        payments,
        list(status.pick_list_values),
    )


async def truncate(engine: AsyncEngine) -> None:
    from sqlalchemy import text

    async with engine.begin() as connection:
        tables = (
            (
                await connection.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        if tables:
            await connection.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
            )
