"""Benchmark: crashes, stops and bursts, with our service and both simulators in subprocesses.

The simulators run as in `bench.sync_initial` (GoCardless sends its webhooks to our service,
retrying an unanswered one after 1, 2, 3, 5, 8… s); our service runs as `gocardless-zoho
serve` (with its worker) or `serve --no-worker` + `worker`, against PostgreSQL database
`gocardless_zoho_bench`. In order:

1. Sync Now (2,000 customers, 4,000 payments, 50 ms per provider call): `kill -9` of `serve`
   midway, restarted at once: seconds until the sync moves again (target 15).
2. A stream of 200 payments created at GoCardless, 20 a second, each a `payments created`
   webhook to us: `kill -9` of `serve` (with its worker) halfway, restarted at once; then
   the same with `serve --no-worker` + `worker`, killing the worker. Seconds from the restart
   until every event we acknowledged is in the CRM (target 30), lost and duplicated (0).
3. SIGTERM to a standalone worker holding 500 claimed events (GoCardless answering in 3 s):
   seconds until it exits (target 10), events left claimed (target 0).
4. 100 concurrent widget calls: Proceed on 50 invoices, mandate lookups on 50: statuses
   and latency (target no 5xx, p99 under 2 s).

    .venv/bin/python -m bench.crash_recovery
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.log import configure_logging
from app.models import (
    Audience,
    EventStatus,
    GcCustomer,
    GcPayment,
    GoCardlessConnection,
    InboxEvent,
    Installation,
    SyncChain,
    SyncRun,
    ZohoConnection,
)
from app.runtime import open_runtime
from app.services.installations import create_installation
from app.services.sync import start_sync
from app.settings import Settings
from bench.servers import (
    announce,
    cpu_by_party,
    cpu_used_by_party,
    free_port,
    parties,
    recreate_database,
    server,
    wait_until_listening,
)

CUSTOMERS, PAYMENTS = 2_000, 4_000
# The burst's calls go to the first 80 payers' invoices (40 Proceeds create a payment, 10
# repeat one, 50 lookups); the warm-up's to 20 others, half of them Proceeds.
BURST_INVOICES, WARM_UP_CALLS = 80, 20
LATENCY_MS = 50
STREAM, STREAM_RATE = 200, 20.0
CLAIMED = 500
WIDGET_CALLS = 100
PAYERS = 130  # customers with an email, a Contact and an invoice in the CRM
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
WEBHOOK_SECRET = "bench-webhook-secret"
GC_HEADERS = {"GoCardless-Version": "2015-07-06", "Content-Type": "application/json"}
CONSOLE = os.path.join(os.path.dirname(sys.executable), "gocardless-zoho")


def serve_gocardless(port: int) -> None:
    from app.simulators.gocardless import SimulatorOptions, SimulatorState, create_app
    from app.simulators.gocardless.formats import SCHEME_CURRENCY
    from tests.e2e.seeding import seed_gocardless

    state = SimulatorState(SimulatorOptions(seed=1, public_url=f"http://127.0.0.1:{port}"))
    org = state.create_organisation(name="Bench Merchant Ltd")
    emails = [f"payer{n}@bench.example" for n in range(PAYERS)]
    seeded = seed_gocardless(state, org, customers=CUSTOMERS, payments=PAYMENTS, emails=emails)
    payers = []
    for email, customer_id in zip(emails, seeded.customers, strict=False):
        mandates = [org.mandates.get(i) for i in org.mandates.ids_for("customer", customer_id)]
        usable = [m for m in mandates if m is not None and m.status == "active"]
        if usable:
            currency = SCHEME_CURRENCY[usable[0].scheme]
            payers.append({"email": email, "mandate": usable[0].id, "currency": currency})
    gbp = [
        m.id
        for i in seeded.mandates
        if (m := org.mandates.get(i)) is not None and m.scheme == "bacs" and m.status == "active"
    ]
    announce(
        {
            "organisation_id": org.id,
            "creditor_id": org.creditor.id,
            "access_token": state.issue_token(org.id).token,
            "mandates": gbp[:50],
            "payers": payers,
        }
    )
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="warning")


def serve_zoho(port: int, payers_file: str) -> None:
    from app.simulators.zoho import ZohoSimOptions, ZohoSimState, create_app
    from app.simulators.zoho.records import create_record
    from app.simulators.zoho.seed import seed_org
    from app.simulators.zoho.state import FULL_SCOPES

    with open(payers_file) as file:
        payers = json.load(file)
    state = ZohoSimState(ZohoSimOptions(base_url=f"http://127.0.0.1:{port}"))
    org = seed_org(state).org
    contacts, invoices = org.store("Contacts"), org.store("Invoices")
    assert contacts is not None and invoices is not None
    invoice_ids = []
    for n, payer in enumerate(payers):
        contact = create_record(
            org,
            contacts,
            {"First_Name": "Payer", "Last_Name": str(n), "Email": payer["email"]},
            org.admin_user_id,
            state.now(),
        )
        total = Decimal("10.00") + n
        values = {
            "Subject": f"Bench invoice {n}",
            "Status": "Created",
            "Currency": payer["currency"],
            "Exchange_Rate": org.currencies[payer["currency"]].exchange_rate,
            "Sub_Total": total,
            "Tax": Decimal("0.00"),
            "Grand_Total": total,
            "Invoice_Date": "2026-01-05",
            "Due_Date": "2026-02-04",
            "Contact_Name": contact["id"],
        }
        invoice_id = create_record(org, invoices, values, org.admin_user_id, state.now())["id"]
        invoice_ids.append({"invoice": invoice_id, "mandate": payer["mandate"]})
    state.accounts.register_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/oauth/zoho/callback")
    tokens = state.accounts.mint_direct(
        CLIENT_ID, org.id, org.admin_user_id, FULL_SCOPES, offline=True
    )
    announce(
        {"org_id": org.id, "admin_user_id": org.admin_user_id, "invoices": invoice_ids, **tokens}
    )
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="warning")


async def until(done: Callable[[], Awaitable[bool]], interval: float = 0.1) -> None:
    """Poll `done` (the processes under test are elsewhere; nothing here can signal us)."""
    while not await done():  # noqa: ASYNC110
        await asyncio.sleep(interval)


class Service:
    """Our service's processes (`serve`, `worker`), started, killed and stopped by name."""

    def __init__(self, env: dict[str, str], port: int, http_processes: int = 1) -> None:
        self.env = {**os.environ, **env}
        self.port = port
        self.http_processes = http_processes
        self.processes: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, name: str, *args: str) -> None:
        # A session of its own: a kill takes the process with everything it started.
        self.processes[name] = await asyncio.create_subprocess_exec(
            CONSOLE, *args, env=self.env, stdout=asyncio.subprocess.DEVNULL, start_new_session=True
        )
        if args[0] == "serve":
            alive = _Alive(self.processes[name])
            await asyncio.to_thread(wait_until_listening, self.port, alive)  # type: ignore[arg-type]

    async def serve(self, *, worker: bool = True) -> None:
        extra = [] if worker else ["--no-worker"]
        extra += ["--processes", str(self.http_processes)]
        await self.start("serve", "serve", "--port", str(self.port), *extra)

    async def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        # SIGKILL to serve and its HTTP processes and worker at once, as when a container
        # dies: no handler, no cleanup, connections cut.
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()

    async def terminate(self, name: str) -> float:
        process = self.processes.pop(name)
        started = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        await process.wait()
        return time.perf_counter() - started

    async def stop_all(self) -> None:
        for name in list(self.processes):
            await self.terminate(name)


class _Alive:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.returncode: int | None = None

    def poll(self) -> int | None:
        self.returncode = self._process.returncode
        return self.returncode


def service_config(
    database_url: str, port: int, gc_base: str, zoho_base: str
) -> tuple[dict[str, str], Settings]:
    """Our service pointed at the simulators: the environment of its processes, and the same
    configuration as Settings for what the benchmark does in-process (installing)."""
    key = Fernet.generate_key().decode()
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "ENCRYPTION_KEYS": key,
        "ADMIN_TOKEN": "bench-admin-token-0123456789abcdefgh",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "GOCARDLESS_API_URL": gc_base,
        "GOCARDLESS_CONNECT_URL": gc_base,
        "GOCARDLESS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ZOHO_CLIENT_ID": CLIENT_ID,
        "ZOHO_CLIENT_SECRET": CLIENT_SECRET,
        "ZOHO_ACCOUNTS_URL": zoho_base,
        "ZOHO_API_URL": zoho_base,
        "LOG_LEVEL": "WARNING",
    }
    settings = Settings(
        database_url=database_url,
        secret_key=env["SECRET_KEY"],
        encryption_keys=key,
        admin_token=env["ADMIN_TOKEN"],
        gocardless_api_url=gc_base,
        zoho_client_id=CLIENT_ID,
        zoho_client_secret=CLIENT_SECRET,
        zoho_accounts_url=zoho_base,
        zoho_api_url=zoho_base,
        log_json=False,
        log_level="WARNING",
    )
    return env, settings


async def install(settings: Settings, gc: dict[str, Any], zoho: dict[str, Any]) -> tuple[Any, str]:
    async with open_runtime(settings) as runtime, runtime.sessionmaker() as session:
        async with session.begin():
            created = await create_installation(
                session,
                runtime,
                zoho_org_id=zoho["org_id"],
                audience=Audience.admins,
                profile_ids=[],
            )
            now = datetime.now(UTC)
            installation_id = created.installation.id
            session.add(
                GoCardlessConnection(
                    installation_id=installation_id,
                    organisation_id=gc["organisation_id"],
                    environment="sandbox",
                    access_token_enc=runtime.cipher.encrypt(gc["access_token"]),
                    creditor_id=gc["creditor_id"],
                    creditor_name="Bench Merchant Ltd",
                    verification_status="successful",
                    status="connected",
                    authorized_at=now,
                )
            )
            session.add(
                ZohoConnection(
                    installation_id=installation_id,
                    org_id=zoho["org_id"],
                    accounts_server=settings.zoho_accounts_url,
                    api_domain=zoho["api_domain"],
                    refresh_token_enc=runtime.cipher.encrypt(zoho["refresh_token"]),
                    access_token_enc=runtime.cipher.encrypt(zoho["access_token"]),
                    access_token_expires_at=now + timedelta(seconds=zoho["expires_in"]),
                    status="connected",
                    authorized_at=now,
                )
            )
        async with session.begin():
            installation = await session.get(Installation, installation_id)
            assert installation is not None
            await start_sync(session, runtime, installation)
    return installation_id, created.api_key


class Probe:
    """Our view of the database while the service runs: one small pool for every look."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_async_engine(
            database_url, pool_size=2, max_overflow=0, pool_pre_ping=True
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def scalar(self, sql: str) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql))).scalar()

    async def sync_progress(self) -> tuple[str, int]:
        async with self.sessionmaker() as session:
            run = (await session.scalars(select(SyncRun))).one()
            synced = 0
            for table in (GcCustomer, GcPayment):
                synced += int(
                    await session.scalar(
                        select(func.count()).select_from(table).where(table.crm_state == "synced")
                    )
                    or 0
                )
            listed = await session.scalar(
                select(func.coalesce(func.sum(SyncChain.listed), 0)).where(
                    SyncChain.installation_id == run.installation_id
                )
            )
            return run.state, int(listed or 0) + synced


async def faults(gc_base: str, zoho_base: str, latency_ms: int) -> None:
    async with httpx.AsyncClient() as admin:
        (
            await admin.put(f"{gc_base}/_sim/faults", json={"latency_ms": latency_ms})
        ).raise_for_status()
        await admin.delete(f"{zoho_base}/_sim/faults")
        if latency_ms:
            (
                await admin.post(
                    f"{zoho_base}/_sim/faults", json={"target": "crm", "latency_ms": latency_ms}
                )
            ).raise_for_status()


async def sync_after_kill(service: Service, probe: Probe) -> float:
    await service.serve()

    async def progressed(than: int) -> bool:
        return (await probe.sync_progress())[1] > than

    async def succeeded() -> bool:
        return (await probe.sync_progress())[0] == "succeeded"

    await until(lambda: progressed(CUSTOMERS), 0.2)
    await service.kill("serve")
    _, before = await probe.sync_progress()
    restarted = time.perf_counter()
    await service.serve()
    await until(lambda: progressed(before))
    moved = time.perf_counter() - restarted
    print(f"1. kill -9 during Sync Now: moved again {moved:.1f} s after the restart (target 15)")
    await until(succeeded, 0.5)
    print("   Sync Now then finished")
    await service.stop_all()
    return moved


async def crm_payment_ids(zoho_base: str, org_id: str) -> Counter[str]:
    async with httpx.AsyncClient(timeout=30) as admin:
        body = (
            await admin.get(
                f"{zoho_base}/_sim/orgs/{org_id}/modules/GoCardless_Payments/records",
                params={"limit": 10_000},
            )
        ).json()
    return Counter(str(r.get("GoCardless_Payment_ID")) for r in body["data"])


async def acknowledged_payments(gc_base: str, since: set[str]) -> set[str]:
    async with httpx.AsyncClient(timeout=30) as admin:
        deliveries = (
            await admin.get(f"{gc_base}/_sim/webhooks", params={"state": "delivered"})
        ).json()
    acknowledged = set()
    for delivery in deliveries:
        for event in json.loads(delivery["body"])["events"]:
            payment = event["links"].get("payment")
            if event["action"] == "created" and payment and payment not in since:
                acknowledged.add(payment)
    return acknowledged


async def stream_with_a_kill(
    service: Service,
    gc: dict[str, Any],
    gc_base: str,
    zoho_base: str,
    zoho_org: str,
    victim: str,
    restart: Any,
) -> tuple[float, int, int]:
    """Create STREAM payments at GoCardless; kill `victim` halfway and `restart` it.

    Returns seconds from the restart until every event acknowledged before the kill is in the
    CRM, acknowledged events missing from the CRM at the end, and duplicated CRM records."""
    before = set((await crm_payment_ids(zoho_base, zoho_org)).keys())
    created: list[str] = []
    restarted = 0.0
    async with httpx.AsyncClient(
        base_url=gc_base, headers={**GC_HEADERS, "Authorization": f"Bearer {gc['access_token']}"}
    ) as api:
        start = time.perf_counter()
        for n in range(STREAM):
            await asyncio.sleep(max(start + n / STREAM_RATE - time.perf_counter(), 0))
            mandate = gc["mandates"][n % len(gc["mandates"])]
            response = await api.post(
                "/payments",
                json={
                    "payments": {
                        "amount": 1000 + n,
                        "currency": "GBP",
                        "links": {"mandate": mandate},
                    }
                },
            )
            if response.status_code == 201:
                created.append(response.json()["payments"]["id"])
            if n == STREAM // 2:
                await service.kill(victim)
                # What the dead process had acknowledged: GoCardless will not send it again.
                at_risk = await acknowledged_payments(gc_base, before)
                restarted = time.perf_counter()
                await restart()
    deadline = restarted + 120
    recovered: float | None = None
    while time.perf_counter() < deadline:
        present = set(await crm_payment_ids(zoho_base, zoho_org))
        if recovered is None and at_risk <= present:
            recovered = time.perf_counter() - restarted
        if set(created) <= present:
            break
        await asyncio.sleep(0.5)
    everything = time.perf_counter() - restarted
    in_crm = await crm_payment_ids(zoho_base, zoho_org)
    acknowledged = await acknowledged_payments(gc_base, before)
    lost = len(acknowledged - set(in_crm))
    duplicated = sum(count - 1 for count in in_crm.values() if count > 1)
    print(
        f"   {len(at_risk)} events acknowledged before the kill, {len(acknowledged)} in all; "
        f"all {len(created)} payments in the CRM {everything:.1f} s after the restart "
        "(the rest waited for GoCardless's redelivery)"
    )
    return (recovered if recovered is not None else float("inf")), lost, duplicated


async def sigterm_with_claims(
    service: Service, probe: Probe, installation_id: Any, gc_base: str, zoho_base: str
) -> tuple[float, int]:
    async with probe.sessionmaker() as session:
        payments = (await session.scalars(select(GcPayment.id).limit(CLAIMED))).all()
    now = datetime.now(UTC)
    async with probe.sessionmaker() as session, session.begin():
        for n, payment in enumerate(payments):
            session.add(
                InboxEvent(
                    installation_id=installation_id,
                    event_id=f"EVBENCH{n:06d}",
                    resource_type="payments",
                    action="confirmed",
                    resource_id=payment,
                    gc_created_at=now,
                    payload={
                        "id": f"EVBENCH{n:06d}",
                        "created_at": now.isoformat().replace("+00:00", "Z"),
                        "resource_type": "payments",
                        "action": "confirmed",
                        "links": {"payment": payment},
                        "details": {
                            "origin": "gocardless",
                            "cause": "payment_confirmed",
                            "description": "Enough time has passed since the payment was "
                            "submitted for the banks to return an error.",
                        },
                        "metadata": {},
                    },
                    source="webhook",
                    status=EventStatus.pending.value,
                    attempts=0,
                    next_attempt_at=now,
                )
            )
    await faults(gc_base, zoho_base, 3000)
    await service.start("worker", "worker")

    async def all_claimed() -> bool:
        claimed = "SELECT count(*) FROM gc_events WHERE claimed_by IS NOT NULL"
        return int(await probe.scalar(claimed)) >= CLAIMED

    await until(all_claimed)
    seconds = await service.terminate("worker")
    left = int(await probe.scalar("SELECT count(*) FROM gc_events WHERE claimed_by IS NOT NULL"))
    await faults(gc_base, zoho_base, 0)
    return seconds, left


async def settled(probe: Probe) -> bool:
    pending = await probe.scalar("SELECT count(*) FROM gc_events WHERE status = 'pending'")
    unpushed = await probe.scalar("SELECT count(*) FROM gc_payments WHERE crm_state = 'pending'")
    syncing = await probe.scalar("SELECT count(*) FROM sync_runs WHERE state <> 'succeeded'")
    return int(pending) + int(unpushed) + int(syncing) == 0


async def widget_burst(
    service: Service, probe: Probe, simulators: list[int], zoho: dict[str, Any], api_key: str
) -> tuple[Counter[int], float, float]:
    await service.serve()
    await until(lambda: settled(probe), 0.5)  # the clicks alone, not the previous backlog
    headers = {"Authorization": f"Bearer {api_key}"}
    invoices = zoho["invoices"]
    assert len(invoices) >= BURST_INVOICES + WARM_UP_CALLS, len(invoices)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def call(client: httpx.AsyncClient, n: int, target: dict[str, str]) -> None:
        started = time.perf_counter()
        if n % 2 == 0:
            response = await client.post(
                f"/api/v1/invoices/{target['invoice']}/payments",
                json={"mandate_id": target["mandate"]},
                headers=headers,
            )
        else:
            response = await client.get(
                f"/api/v1/invoices/{target['invoice']}/mandates", headers=headers
            )
        latencies.append(time.perf_counter() - started)
        statuses[response.status_code] += 1

    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{service.port}",
        timeout=60,
        limits=httpx.Limits(max_connections=WIDGET_CALLS),
    ) as client:
        # A service that has just started opens its pool and prepares each statement on each
        # connection on its first requests: a few calls of both kinds first, on other
        # invoices, as a running service has done long before.
        warm_up = time.perf_counter()
        others = invoices[BURST_INVOICES : BURST_INVOICES + WARM_UP_CALLS]
        await asyncio.gather(*(call(client, n, target) for n, target in enumerate(others)))
        print(
            f"   warm-up, not in the figures: {WARM_UP_CALLS} calls at once (Proceeds and "
            f"lookups on other invoices) in {(time.perf_counter() - warm_up) * 1000:.0f} ms, "
            f"statuses {dict(sorted(statuses.items()))}"
        )
        latencies.clear()
        statuses.clear()
        # After the warm-up, which opened the pool's connections (PostgreSQL backends).
        who = parties(service.processes["serve"].pid, simulators, "this benchmark")
        before = cpu_by_party(who)
        started = time.perf_counter()
        await asyncio.gather(
            *(call(client, n, invoices[n % BURST_INVOICES]) for n in range(WIDGET_CALLS))
        )
        wall = time.perf_counter() - started
    used = cpu_used_by_party(who, before)
    print(
        f"   CPU during the {wall:.2f} s burst (2 cores give {2 * wall:.1f} s): "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in used.items())
        + f"; our HTTP {used['HTTP'] / WIDGET_CALLS * 1000:.1f} ms a call"
    )
    await service.stop_all()
    ordered = sorted(latencies)
    return (
        statuses,
        ordered[len(ordered) // 2],
        ordered[min(int(0.99 * len(ordered)), len(ordered) - 1)],
    )


async def report_widgets(
    service: Service, probe: Probe, simulators: list[int], zoho: dict[str, Any], api_key: str
) -> bool:
    statuses, p50, p99 = await widget_burst(service, probe, simulators, zoho, api_key)
    print(
        f"4. {WIDGET_CALLS} concurrent widget calls (Proceed on 50 invoices, lookups "
        f"on 50): statuses {dict(sorted(statuses.items()))}, p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms (target no 5xx, p99 under 2000 ms)"
    )
    return not any(status >= 500 for status in statuses) and p99 < 2


async def run(*, widgets_only: bool = False, processes: int = 1) -> bool:
    database_url = await recreate_database()
    gc_port, zoho_port, port = free_port(), free_port(), free_port()
    gc_base, zoho_base = f"http://127.0.0.1:{gc_port}", f"http://127.0.0.1:{zoho_port}"
    with server(["-m", "bench.crash_recovery", "--serve-gocardless", str(gc_port)], gc_port) as gc:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as payers:
            json.dump(gc["payers"], payers)
        with server(
            ["-m", "bench.crash_recovery", "--serve-zoho", str(zoho_port), "--payers", payers.name],
            zoho_port,
        ) as zoho:
            env, settings = service_config(database_url, port, gc_base, zoho_base)
            configure_logging(json=False, level="WARNING")
            await faults(gc_base, zoho_base, LATENCY_MS)
            installation_id, api_key = await install(settings, gc, zoho)
            service = Service(env, port, processes)
            probe = Probe(database_url)
            ok = True
            try:
                if widgets_only:
                    await faults(gc_base, zoho_base, 0)
                    await service.serve()
                    await until(lambda: settled(probe), 0.5)
                    await service.stop_all()
                    return await report_widgets(
                        service, probe, [gc["pid"], zoho["pid"]], zoho, api_key
                    )
                moved = await sync_after_kill(service, probe)
                ok &= moved < 15
                await faults(gc_base, zoho_base, 0)
                async with httpx.AsyncClient() as admin:
                    (
                        await admin.post(
                            f"{gc_base}/_sim/webhook-endpoints",
                            json={
                                "url": f"http://127.0.0.1:{port}/webhooks/gocardless",
                                "secret": WEBHOOK_SECRET,
                                "organisation_id": gc["organisation_id"],
                            },
                        )
                    ).raise_for_status()
                    (
                        await admin.put(
                            f"{gc_base}/_sim/webhook-delivery",
                            json={"retry_delays_seconds": [1, 2, 3, 5, 8, 13, 21, 34]},
                        )
                    ).raise_for_status()
                await service.serve()
                seconds, lost, duplicated = await stream_with_a_kill(
                    service, gc, gc_base, zoho_base, zoho["org_id"], "serve", service.serve
                )
                print(
                    f"2. kill -9 of serve (with its worker) mid-stream: every event acknowledged "
                    f"before the kill in the CRM {seconds:.1f} s after the restart (target 30); "
                    f"lost {lost}, duplicated {duplicated}"
                )
                ok &= seconds < 30 and lost == 0 and duplicated == 0
                await service.stop_all()
                await service.serve(worker=False)
                await service.start("worker", "worker")

                async def restart_worker() -> None:
                    await service.start("worker", "worker")

                seconds, lost, duplicated = await stream_with_a_kill(
                    service, gc, gc_base, zoho_base, zoho["org_id"], "worker", restart_worker
                )
                print(
                    f"   kill -9 of a standalone worker mid-stream: every event acknowledged "
                    f"before the kill in the CRM {seconds:.1f} s after the restart (target 30); "
                    f"lost {lost}, duplicated {duplicated}"
                )
                ok &= seconds < 30 and lost == 0 and duplicated == 0
                await service.stop_all()
                await service.serve(worker=False)
                exit_seconds, left = await sigterm_with_claims(
                    service, probe, installation_id, gc_base, zoho_base
                )
                print(
                    f"3. SIGTERM to a worker holding {CLAIMED} claimed events: exited in "
                    f"{exit_seconds:.1f} s (target 10), {left} left claimed (target 0)"
                )
                ok &= exit_seconds < 10 and left == 0
                await service.stop_all()
                ok &= await report_widgets(service, probe, [gc["pid"], zoho["pid"]], zoho, api_key)
            finally:
                await service.stop_all()
                await probe.engine.dispose()
    print("PASS" if ok else "FAIL")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-gocardless", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-zoho", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--payers", help=argparse.SUPPRESS)
    parser.add_argument(
        "--widgets-only", action="store_true", help="only Sync Now (no kill) and the widget calls"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="`serve --processes` (default %(default)s, as the Dockerfile)",
    )
    args = parser.parse_args()
    if args.serve_gocardless:
        serve_gocardless(args.serve_gocardless)
    elif args.serve_zoho:
        serve_zoho(args.serve_zoho, args.payers)
    else:
        ok = asyncio.run(run(widgets_only=args.widgets_only, processes=args.processes))
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
