"""End-to-end harness: our service and both provider simulators in one process, no sockets.

`open_world()` builds the GoCardless simulator (API and OAuth Connect on
`http://gocardless.sim`), the Zoho simulator (Accounts and CRM on `http://zoho.sim`) and our
service (`http://testserver`), all behind one `HostRouter`: the service's outbound calls (OAuth
included) and the simulator's signed webhooks go through it, so a test sees and can trip any
call. Helpers run the real flows over HTTP: install through the operator API, both OAuth
consents, Sync Now, webhooks, the worker (`app.jobs.worker.drain`) and catch-up; then
`assert_crm_matches_gocardless` compares the CRM with GoCardless record for record.

    async with open_world(engine) as world:
        installed = await connect(world)
        seed_gocardless(world.gocardless, world.merchant, customers=100, payments=300)
        await sync_now(world, installed)
        assert_crm_matches_gocardless(world)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.gocardless.pacing import PacerRegistry
from app.jobs.worker import drain
from app.main import create_app
from app.models import CrmState, EventStatus, GcCustomer, GcPayment, InboxEvent, Lease, SyncRun
from app.runtime import Runtime
from app.settings import Settings
from app.simulators import gocardless as gc_sim
from app.simulators import zoho as zoho_sim
from app.simulators.common import DeliveryPolicy
from app.simulators.gocardless.state import Organisation
from app.simulators.zoho.seed import seed_org
from app.simulators.zoho.state import Org
from tests.conftest import make_settings
from tests.e2e.crm_compare import CUSTOMERS, PAYMENTS, mismatches
from tests.e2e.routing import Crash, HostRouter, crash
from tests.e2e.seeding import Seeded, seed_gocardless
from tests.foundation.conftest import Installed, install

SERVICE = "http://testserver"
GOCARDLESS = "http://gocardless.sim"
ZOHO = "http://zoho.sim"
WEBHOOK_URL = f"{SERVICE}/webhooks/gocardless"
# Webhook retries in real seconds would make a test wait; a refused delivery retries at once.
FAST_DELIVERY = DeliveryPolicy(batch_window_seconds=0.0, retry_delays_seconds=[0.0, 0.01, 0.05])

__all__ = [
    "CUSTOMERS",
    "FAST_DELIVERY",
    "GOCARDLESS",
    "PAYMENTS",
    "SERVICE",
    "ZOHO",
    "Crash",
    "HostRouter",
    "Seeded",
    "World",
    "assert_crm_matches_gocardless",
    "authorize_gocardless",
    "authorize_zoho",
    "connect",
    "crash",
    "crm_mismatches",
    "crm_record_count",
    "deliver_webhooks",
    "e2e_settings",
    "let_time_pass",
    "open_world",
    "seed_gocardless",
    "settle",
    "start_sync",
    "sync_now",
    "sync_run",
    "sync_status",
    "work_left",
]


def e2e_settings(**overrides: object) -> Settings:
    """Test settings with both providers pointed at the simulators' hosts."""
    values: dict[str, object] = {
        "gocardless_api_url": GOCARDLESS,
        "gocardless_connect_url": GOCARDLESS,
        "zoho_accounts_url": ZOHO,
        "zoho_api_url": ZOHO,
    }
    values.update(overrides)
    return make_settings(**values)


async def _instant(_seconds: float) -> None:
    return None


@dataclass
class World:
    settings: Settings
    router: HostRouter
    service: FastAPI
    # Talks to our service (and, following redirects, to the simulators) like a browser.
    client: httpx.AsyncClient
    gocardless: gc_sim.SimulatorState
    zoho: zoho_sim.ZohoSimState
    merchant: Organisation
    crm_org: Org

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.service.state.runtime
        return runtime

    def widget_headers(self, installed: Installed) -> dict[str, str]:
        # The API key: the installation itself, with admin rights (as an integrator calls).
        return installed.headers()

    def upserts(self, module: str) -> int:
        return self.router.count("POST", f"{ZOHO}/crm/v8/{module}/upsert")

    def listings(self, resource: str) -> int:
        return self.router.count("GET", f"{GOCARDLESS}/{resource}")


@asynccontextmanager
async def open_world(
    engine: AsyncEngine,
    *,
    settings: Settings | None = None,
    seed: int = 7,
    real_rate_limits: bool = False,
    delivery: DeliveryPolicy = FAST_DELIVERY,
    multi_currency: bool = True,
) -> AsyncIterator[World]:
    """Both simulators and our service, wired together; provider retry waits are instant.

    Unless `real_rate_limits`, GoCardless's 1000 calls a minute (the simulator's and our
    pacer's) are lifted, so webhook-heavy tests do not wait on a budget they don't test.
    """
    settings = settings or e2e_settings()
    router = HostRouter()
    gocardless = gc_sim.SimulatorState(
        gc_sim.SimulatorOptions(
            seed=seed,
            public_url=GOCARDLESS,
            webhook_transport=router,
            delivery=delivery,
            rate_limit_per_minute=1000 if real_rate_limits else 10**9,
        )
    )
    merchant = gocardless.create_organisation(name="E2E Merchant Ltd")
    gocardless.configure_oauth_client(
        settings.gocardless_client_id,
        settings.gocardless_client_secret.get_secret_value(),
        f"{settings.public_base_url}/oauth/gocardless/callback",
    )
    gocardless.add_webhook_endpoint(
        WEBHOOK_URL, settings.gocardless_webhook_secret.get_secret_value()
    )
    zoho = zoho_sim.ZohoSimState(
        zoho_sim.ZohoSimOptions(base_url=ZOHO, namespace=settings.zoho_namespace)
    )
    crm_org = seed_org(zoho, multi_currency=multi_currency).org
    zoho.accounts.register_client(
        settings.zoho_client_id,
        settings.zoho_client_secret.get_secret_value(),
        f"{settings.public_base_url}/oauth/zoho/callback",
    )
    service = create_app(settings, engine=engine, transport=router)
    gocardless_app = gc_sim.create_app(gocardless)
    router.mount(SERVICE, service)
    router.mount(GOCARDLESS, gocardless_app)
    router.mount(ZOHO, zoho_sim.create_app(zoho))
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(LifespanManager(service))
        # Entered last, so closed first: no webhook goes out to a service that has stopped.
        await stack.enter_async_context(LifespanManager(gocardless_app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=router, base_url=SERVICE)
        )
        runtime: Runtime = service.state.runtime
        runtime.provider_sleep = _instant
        if not real_rate_limits:
            runtime.gocardless_pacers = PacerRegistry(rate_per_minute=10**9, burst=10**6)
        yield World(settings, router, service, client, gocardless, zoho, merchant, crm_org)


# -- installation and the two OAuth consents, through the browser endpoints -------------


class _FormReader(HTMLParser):
    """The first form of a page: its action and the values it would submit as it stands."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden" and "name" in values:
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "select":
            self._select = values.get("name")
        elif tag == "option" and self._select and self._select not in self.fields:
            self.fields[self._select] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


async def _consent(
    world: World, authorize_url: str, choices: Mapping[str, str], callback_path: str
) -> httpx.Response:
    """Follow our start link to the provider's consent page, press a button, and follow the
    provider's redirect back to our callback."""
    page = await world.client.get(authorize_url, follow_redirects=True)
    assert page.status_code == 200, page.text
    form = _FormReader()
    form.feed(page.text)
    assert form.action is not None, f"no form on {page.url}"
    result = await world.client.post(
        urljoin(str(page.url), form.action),
        data={**form.fields, **choices},
        follow_redirects=True,
    )
    assert result.url.path == callback_path, result.url
    return result


async def authorize_link(world: World, installed: Installed, provider: str) -> str:
    """A fresh authorize link (each works once), as an admin's settings page gets it."""
    response = await world.client.get(
        "/api/v1/installation", headers=world.widget_headers(installed)
    )
    assert response.status_code == 200, response.text
    link: str = response.json()[provider]["authorize_url"]
    return link


async def authorize_gocardless(
    world: World, installed: Installed, *, approve: bool = True
) -> httpx.Response:
    return await _consent(
        world,
        await authorize_link(world, installed, "gocardless"),
        {"organisation_id": world.merchant.id, "decision": "approve" if approve else "deny"},
        "/oauth/gocardless/callback",
    )


async def authorize_zoho(
    world: World, installed: Installed, *, approve: bool = True
) -> httpx.Response:
    return await _consent(
        world,
        await authorize_link(world, installed, "zoho"),
        {
            "account": f"{world.crm_org.id}:{world.crm_org.admin_user_id}",
            "decision": "approve" if approve else "deny",
        },
        "/oauth/zoho/callback",
    )


async def connect(world: World) -> Installed:
    """Install for the simulated CRM org and authorize both providers, as an admin would."""
    installed = await install(world.client, org_id=world.crm_org.id)
    for authorize in (authorize_zoho, authorize_gocardless):
        result = await authorize(world, installed)
        assert result.status_code == 200, result.text
    return installed


# -- Sync Now, webhooks, the worker --------------------------------------------------


async def start_sync(world: World, installed: Installed) -> dict[str, Any]:
    response = await world.client.post(
        "/api/v1/installation/sync", headers=world.widget_headers(installed)
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def sync_status(world: World, installed: Installed) -> dict[str, Any]:
    response = await world.client.get(
        "/api/v1/installation/sync", headers=world.widget_headers(installed)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sync_now(world: World, installed: Installed) -> dict[str, Any]:
    """Press Sync Now and run the worker until it is done; returns the final sync status."""
    await start_sync(world, installed)
    await drain(world.runtime)
    return await sync_status(world, installed)


async def sync_run(world: World, installation_id: uuid.UUID) -> SyncRun:
    async with world.runtime.sessionmaker() as session:
        run = await session.get(SyncRun, installation_id)
    assert run is not None
    return run


async def deliver_webhooks(world: World) -> None:
    """Wait until the simulator has delivered (or dropped, or given up on) every webhook."""
    await world.gocardless.dispatcher.drain()


async def let_time_pass(world: World) -> None:
    """Make every retry delay run out and free every lease, as if minutes had passed and the
    workers holding them had died."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with world.runtime.sessionmaker() as session, session.begin():
        for table in (GcCustomer, GcPayment):
            await session.execute(
                update(table).where(table.crm_retry_at > past).values(crm_retry_at=past)
            )
        await session.execute(
            update(InboxEvent)
            .where(
                InboxEvent.status == EventStatus.pending.value, InboxEvent.next_attempt_at > past
            )
            .values(next_attempt_at=past, claimed_by=None)
        )
        await session.execute(delete(Lease))


async def settle(world: World, *, rounds: int = 20) -> None:
    """Deliver webhooks and run the worker until neither has anything left.

    Reading GoCardless can itself move the simulated bank on (due steps are applied lazily
    on each API call) and emit more webhooks, hence the loop.
    """
    for _ in range(rounds):
        delivered = len(world.gocardless.dispatcher.deliveries())
        await deliver_webhooks(world)
        await let_time_pass(world)
        await drain(world.runtime)
        await deliver_webhooks(world)
        if len(world.gocardless.dispatcher.deliveries()) == delivered and not await work_left(
            world
        ):
            return
    raise AssertionError(f"the world did not settle: {await work_left(world)}")


async def work_left(world: World) -> dict[str, int]:
    """Events not yet processed and mirror rows the CRM has not seen, by kind (zeros left out)."""
    async with world.runtime.sessionmaker() as session:
        events = dict(
            (
                await session.execute(
                    select(InboxEvent.status, func.count())
                    .where(
                        InboxEvent.status.in_([EventStatus.pending.value, EventStatus.failed.value])
                    )
                    .group_by(InboxEvent.status)
                )
            ).all()
        )
        left = {f"events_{status}": count for status, count in events.items()}
        for name, table in (("customers", GcCustomer), ("payments", GcPayment)):
            pending = await session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.crm_state == CrmState.pending.value)
            )
            if pending:
                left[f"{name}_pending"] = pending
    return left


# -- comparing the CRM with GoCardless --------------------------------------------------


def crm_mismatches(world: World) -> list[str]:
    return mismatches(world.merchant, world.crm_org, world.settings.zoho_namespace)


def assert_crm_matches_gocardless(world: World) -> None:
    problems = crm_mismatches(world)
    shown = "\n".join(problems[:20])
    assert not problems, f"{len(problems)} difference(s) between CRM and GoCardless:\n{shown}"


def crm_record_count(world: World, module: str) -> int:
    store = world.crm_org.store(world.settings.zoho_namespace + module)
    assert store is not None
    return len(store)
