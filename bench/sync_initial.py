"""Benchmark: Sync Now of 50,000 customers and 200,000 payments against both simulators.

Each simulator runs in its own uvicorn subprocess on a localhost port, answering every API
call 50 ms late, with the providers' real limits: GoCardless 1000 requests a minute per
token (and our pacer's own budget), Zoho 10 calls in flight per org (and our limiter's).
This process runs only our side (runtime, worker, PostgreSQL database
`gocardless_zoho_bench`), so its peak RSS is our memory.

Prints wall time, calls per module against the minimum (GoCardless: ceil(N/500) list calls
per resource; Zoho: ceil(N/100) upserts per module), and wall time against the lower bound:
    GoCardless: max(calls x latency / 3 resources listed at once, calls / 1000 per minute)
    Zoho:       upserts x latency / 10 in flight
    bound:      max of the two (a sync that overlaps them perfectly); the stage-by-stage
                bound (their sum) is printed too.

    .venv/bin/python -m bench.sync_initial [--customers 50000 --payments 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from math import ceil
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.jobs.worker import drain
from app.log import configure_logging
from app.models import Installation, SyncRun
from app.runtime import open_runtime
from app.services.sync import start_sync
from app.settings import Settings
from bench.servers import (
    CountingTransport,
    announce,
    cpu_seconds,
    free_port,
    postgres_pids,
    recreate_database,
    server,
    store_installation,
)

LATENCY_MS = 50
GC_RATE_PER_MINUTE = 1000
ZOHO_CONCURRENCY = 10
GC_PAGE, CRM_BATCH = 500, 100
RSS_LIMIT_MB = 200
RATIO_TARGET = 1.5
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"


def serve_gocardless(port: int, customers: int, payments: int) -> None:
    from app.simulators.gocardless import SimulatorOptions, SimulatorState, create_app
    from tests.e2e.seeding import seed_gocardless

    state = SimulatorState(
        SimulatorOptions(
            seed=1,
            public_url=f"http://127.0.0.1:{port}",
            rate_limit_per_minute=GC_RATE_PER_MINUTE,
        )
    )
    org = state.create_organisation(name="Bench Merchant Ltd")
    seeded = seed_gocardless(state, org, customers=customers, payments=payments)
    announce(
        {
            "organisation_id": org.id,
            "creditor_id": org.creditor.id,
            "access_token": state.issue_token(org.id).token,
            "mandates": len(seeded.mandates),
        }
    )
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="warning")


def serve_zoho(port: int) -> None:
    from app.simulators.zoho import ZohoSimOptions, ZohoSimState, create_app
    from app.simulators.zoho.seed import seed_org
    from app.simulators.zoho.state import FULL_SCOPES

    state = ZohoSimState(ZohoSimOptions(base_url=f"http://127.0.0.1:{port}"))
    org = seed_org(state).org
    state.accounts.register_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/oauth/zoho/callback")
    tokens = state.accounts.mint_direct(
        CLIENT_ID, org.id, org.admin_user_id, FULL_SCOPES, offline=True
    )
    announce({"org_id": org.id, **tokens})
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="warning")


async def slow_down(gc_base: str, zoho_base: str) -> None:
    async with httpx.AsyncClient() as admin:
        (
            await admin.put(f"{gc_base}/_sim/faults", json={"latency_ms": LATENCY_MS})
        ).raise_for_status()
        (
            await admin.post(
                f"{zoho_base}/_sim/faults", json={"target": "crm", "latency_ms": LATENCY_MS}
            )
        ).raise_for_status()


async def run(args: argparse.Namespace) -> bool:
    database_url = await recreate_database()
    gc_port, zoho_port = free_port(), free_port()
    gc_base, zoho_base = f"http://127.0.0.1:{gc_port}", f"http://127.0.0.1:{zoho_port}"
    common = ["-m", "bench.sync_initial", "--customers", str(args.customers)]
    with (
        server(
            [*common, "--payments", str(args.payments), "--serve-gocardless", str(gc_port)], gc_port
        ) as gc,
        server([*common, "--serve-zoho", str(zoho_port)], zoho_port) as zoho,
    ):
        settings = Settings(
            database_url=database_url,
            secret_key="bench-secret-key-0123456789abcdef",  # type: ignore[arg-type]
            encryption_keys=Fernet.generate_key().decode(),  # type: ignore[arg-type]
            admin_token="bench-admin-token-0123456789abcdefgh",  # type: ignore[arg-type]
            gocardless_api_url=gc_base,
            gocardless_connect_url=gc_base,
            zoho_client_id=CLIENT_ID,
            zoho_client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
            zoho_accounts_url=zoho_base,
            zoho_api_url=zoho_base,
            zoho_concurrency=ZOHO_CONCURRENCY,
            log_json=False,
            log_level="WARNING",
        )
        configure_logging(json=False, level="WARNING")
        installation_id = await store_installation(
            settings,
            zoho_org_id=zoho["org_id"],
            organisation_id=gc["organisation_id"],
            gocardless_token=gc["access_token"],
            creditor_id=gc["creditor_id"],
            zoho=zoho,
        )
        await slow_down(gc_base, zoho_base)
        transport = CountingTransport()
        async with open_runtime(settings, transport=transport) as runtime:
            async with runtime.sessionmaker() as session, session.begin():
                installation = await session.get(Installation, installation_id)
                assert installation is not None
                await start_sync(session, runtime, installation)
            rss_before = _rss_mb()
            sims = [gc["pid"], zoho["pid"]]
            before = (time.process_time(), cpu_seconds(sims), cpu_seconds(postgres_pids()))
            started = time.perf_counter()
            watcher = asyncio.create_task(_watch_stages(runtime, installation_id, started))
            await drain(runtime, max_rounds=10**6)
            wall = time.perf_counter() - started
            used = (
                time.process_time() - before[0],
                cpu_seconds(sims) - before[1],
                cpu_seconds(postgres_pids()) - before[2],
            )
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            # The simulators and PostgreSQL share this machine's cores with us; the bound
            # counts only latency and limits, this shows what the machine itself allowed.
            cores = os.cpu_count() or 1
            print(
                f"  CPU during the sync: ours {used[0]:.1f} s, simulators {used[1]:.1f} s, "
                f"PostgreSQL {used[2]:.1f} s = {sum(used):.1f} s on {cores} cores "
                f"(>= {sum(used) / cores:.1f} s of wall time)"
            )
            async with runtime.sessionmaker() as session:
                sync = await session.get(SyncRun, installation_id)
            assert sync is not None
            async with httpx.AsyncClient() as admin:
                zoho_counters = (await admin.get(f"{zoho_base}/_sim/counters")).json()
        return report(
            args, gc, sync, transport, zoho_counters, gc_port, zoho_port, wall, rss_before
        )


def report(
    args: argparse.Namespace,
    gc: dict[str, Any],
    sync: SyncRun,
    calls: CountingTransport,
    zoho_counters: dict[str, int],
    gc_port: int,
    zoho_port: int,
    wall: float,
    rss_before: float,
) -> bool:
    latency = LATENCY_MS / 1000
    sizes = {"customers": args.customers, "mandates": gc["mandates"], "payments": args.payments}
    print(
        f"Sync Now: {args.customers:,} customers, {gc['mandates']:,} mandates, "
        f"{args.payments:,} payments; {LATENCY_MS} ms per call"
    )
    print(
        f"  state {sync.state}, listed {sync.customers_listed:,} customers, "
        f"{sync.mandates_listed:,} mandates, {sync.payments_listed:,} payments"
    )
    ok = sync.state == "succeeded"
    gc_min = 0
    for resource_name, size in sizes.items():
        made, minimum = calls.count(gc_port, "GET", f"/{resource_name}"), ceil(size / GC_PAGE)
        gc_min += minimum
        ok &= made == minimum
        print(f"  GoCardless GET /{resource_name:<9} {made:>5} calls (minimum {minimum})")
    events = calls.count(gc_port, "GET", "/events")
    gc_total = calls.total(gc_port)
    print(
        f"  GoCardless GET /events    {events:>5} calls; all GoCardless calls {gc_total}, "
        f"refused {calls.total(gc_port, ok=False)}"
    )
    upserts = 0
    for module, size in (
        ("GoCardless_Customers", args.customers),
        ("GoCardless_Payments", args.payments),
    ):
        made, minimum = (
            calls.count(zoho_port, "POST", f"/crm/v8/{module}/upsert"),
            ceil(size / CRM_BATCH),
        )
        upserts += minimum
        ok &= made == minimum
        print(f"  Zoho upsert {module:<21} {made:>5} calls (minimum {minimum})")
    print(
        f"  all Zoho calls {calls.total(zoho_port)}, refused {calls.total(zoho_port, ok=False)}, "
        f"rejected for concurrency at Zoho {zoho_counters.get('crm.rejected.concurrency', 0)}"
    )
    gc_bound = max(gc_min * latency / 3, gc_min / (GC_RATE_PER_MINUTE / 60))
    zoho_bound = upserts * latency / ZOHO_CONCURRENCY
    bound = max(gc_bound, zoho_bound)
    ratio = wall / bound
    ok &= ratio <= RATIO_TARGET
    print(
        f"  lower bound: GoCardless {gc_bound:.1f} s, Zoho {zoho_bound:.1f} s -> "
        f"overlapped {bound:.1f} s, stage by stage {gc_bound + zoho_bound:.1f} s"
    )
    print(
        f"  wall time {wall:.1f} s: x{ratio:.2f} the overlapped bound (target x{RATIO_TARGET}), "
        f"x{wall / (gc_bound + zoho_bound):.2f} the stage-by-stage one"
    )
    rss = _rss_mb()
    ok &= rss < RSS_LIMIT_MB
    print(
        f"  our process: peak RSS {rss:.0f} MB (limit {RSS_LIMIT_MB}), {rss_before:.0f} MB "
        "before the sync started"
    )
    print("PASS" if ok else "FAIL")
    return ok


async def _watch_stages(runtime: Any, installation_id: Any, started: float) -> None:
    """Print when each stage of the sync began (polled, so to within a quarter second)."""
    seen = None
    while True:
        async with runtime.sessionmaker() as session:
            stage = await session.scalar(
                select(SyncRun.stage).where(SyncRun.installation_id == installation_id)
            )
        if stage != seen:
            print(f"  {time.perf_counter() - started:6.1f} s  stage {stage}", flush=True)
            seen = stage
        await asyncio.sleep(0.25)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--payments", type=int, default=200_000)
    parser.add_argument("--serve-gocardless", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-zoho", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_gocardless:
        serve_gocardless(args.serve_gocardless, args.customers, args.payments)
    elif args.serve_zoho:
        serve_zoho(args.serve_zoho)
    else:
        sys.exit(0 if asyncio.run(run(args)) else 1)


if __name__ == "__main__":
    main()
