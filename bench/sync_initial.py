"""Benchmark: Sync Now against both simulators, at a fixed latency per call.

Each simulator runs in its own uvicorn subprocess on a localhost port, answering every API
call late (`--latency-ms`), with the providers' real limits: GoCardless 1000 requests a
minute per token (and our pacer's own budget), Zoho 10 calls in flight per org (and our
limiter's). This process runs only our side (runtime, worker, PostgreSQL database
`gocardless_zoho_bench`), so its peak RSS is our memory.

Two scenarios of issue 13:
    --scenario large  50,000 customers (80 % with a mandate), 200,000 payments, 50 ms a call;
                      target: wall <= 1.2 x the bound (the rate limit's, here)
    --scenario small  20,000 customers, 20,000 mandates, 60,000 payments, 100 ms a call;
                      target: wall <= 1.5 x the bound (the longest chain's, here)

Prints wall time, calls per module against the minimum (GoCardless: ceil(N/500) list calls
per resource; Zoho: ceil(N/100) upserts per module), and wall time against the bounds:
    chain:      (pages of the longest resource + the 2 event calls) x latency: a sync that
                lists every resource at once, each as one cursor chain
    rate limit: GoCardless calls / 1000 per minute
    Zoho:       upserts x latency / 10 in flight
    bound:      the largest of the three
`--payment-windows 1 4` runs the sync once per setting (fresh simulators and database each)
and prints the trade-off: the extra list calls windows cost against the wall time they buy.

    .venv/bin/python -m bench.sync_initial [--scenario small] [--payment-windows 1 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from dataclasses import dataclass
from gc import freeze
from math import ceil
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.jobs.worker import drain
from app.log import configure_logging
from app.models import Installation, SyncChain, SyncRun
from app.runtime import open_runtime
from app.services.sync import start_sync, sync_status
from app.settings import Settings
from bench.servers import (
    CountingTransport,
    announce,
    cpu_by_pid,
    cpu_seconds,
    cpu_since,
    free_port,
    postgres_pids,
    recreate_database,
    server,
    store_installation,
)

GC_RATE_PER_MINUTE = 1000
ZOHO_CONCURRENCY = 10
GC_PAGE, CRM_BATCH = 500, 100
RSS_LIMIT_MB = 200
# How often the settings page asks for the sync's status (app/widget/app/js/settings.js).
SETTINGS_POLL_SECONDS = 1.5
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
# customers, share with a mandate, payments, latency (ms), target ratio to the bound
SCENARIOS = {
    "large": (50_000, 0.8, 200_000, 50, 1.2),
    "small": (20_000, 1.0, 60_000, 100, 1.5),
}


@dataclass(frozen=True)
class Outcome:
    windows: int
    wall: float
    payment_calls: int
    payment_minimum: int
    ok: bool


def serve_gocardless(port: int, customers: int, payments: int, mandate_share: float) -> None:
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
    seeded = seed_gocardless(
        state, org, customers=customers, payments=payments, mandate_share=mandate_share
    )
    announce(
        {
            "organisation_id": org.id,
            "creditor_id": org.creditor.id,
            "access_token": state.issue_token(org.id).token,
            "mandates": len(seeded.mandates),
        }
    )
    # The seeded accounts live as long as the server: out of the garbage collector's way, as
    # serve and the worker keep their start-up heap (full collections walked every record).
    freeze()
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
    freeze()
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="warning")


async def slow_down(gc_base: str, zoho_base: str, latency_ms: int) -> None:
    async with httpx.AsyncClient() as admin:
        (
            await admin.put(f"{gc_base}/_sim/faults", json={"latency_ms": latency_ms})
        ).raise_for_status()
        (
            await admin.post(
                f"{zoho_base}/_sim/faults", json={"target": "crm", "latency_ms": latency_ms}
            )
        ).raise_for_status()


async def run(args: argparse.Namespace, windows: int) -> Outcome:
    database_url = await recreate_database()
    gc_port, zoho_port = free_port(), free_port()
    gc_base, zoho_base = f"http://127.0.0.1:{gc_port}", f"http://127.0.0.1:{zoho_port}"
    common = ["-m", "bench.sync_initial", "--customers", str(args.customers)]
    gocardless_args = [
        *common,
        "--payments",
        str(args.payments),
        "--mandate-share",
        str(args.mandate_share),
        "--serve-gocardless",
        str(gc_port),
    ]
    with (
        server(gocardless_args, gc_port) as gc,
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
            sync_payment_windows=windows,
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
        await slow_down(gc_base, zoho_base, args.latency_ms)
        transport = CountingTransport()
        async with open_runtime(settings, transport=transport) as runtime:
            freeze()  # as the worker does once its runtime is open (app.cli)
            async with runtime.sessionmaker() as session, session.begin():
                installation = await session.get(Installation, installation_id)
                assert installation is not None
                await start_sync(session, runtime, installation)
            rss_before = _rss_mb()
            sims = [gc["pid"], zoho["pid"]]
            before = (time.process_time(), cpu_seconds(sims), cpu_by_pid(postgres_pids()))
            started = time.perf_counter()
            watcher = asyncio.create_task(_watch_stages(runtime, installation_id, started))
            await drain(runtime, max_rounds=10**6)
            wall = time.perf_counter() - started
            used = (
                time.process_time() - before[0],
                cpu_seconds(sims) - before[1],
                cpu_since(before[2], cpu_by_pid(postgres_pids())),
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
                chains = (await session.scalars(select(SyncChain).order_by(SyncChain.name))).all()
            assert sync is not None
            async with httpx.AsyncClient() as admin:
                zoho_counters = (await admin.get(f"{zoho_base}/_sim/counters")).json()
        return report(
            args,
            windows,
            gc,
            sync,
            list(chains),
            transport,
            zoho_counters,
            (gc_port, zoho_port),
            wall,
            rss_before,
            sum(used) / cores,
        )


def report(
    args: argparse.Namespace,
    windows: int,
    gc: dict[str, Any],
    sync: SyncRun,
    chains: list[SyncChain],
    calls: CountingTransport,
    zoho_counters: dict[str, int],
    ports: tuple[int, int],
    wall: float,
    rss_before: float,
    cpu_floor: float,
) -> Outcome:
    gc_port, zoho_port = ports
    latency = args.latency_ms / 1000
    sizes = {"customers": args.customers, "mandates": gc["mandates"], "payments": args.payments}
    print(
        f"Sync Now: {args.customers:,} customers, {gc['mandates']:,} mandates, "
        f"{args.payments:,} payments; {args.latency_ms} ms per call; "
        f"payments in at most {windows} window(s)"
    )
    listed = {name: sum(c.listed for c in chains if c.resource == name) for name in sizes}
    print(
        f"  state {sync.state}, listed {listed['customers']:,} customers, "
        f"{listed['mandates']:,} mandates, {listed['payments']:,} payments"
    )
    for chain in chains:
        window = ""
        if chain.created_from or chain.created_before:
            low = chain.created_from.date() if chain.created_from else "..."
            high = chain.created_before.date() if chain.created_before else "..."
            window = f" created_at [{low}, {high})"
        print(
            f"    chain {chain.name:<11} {chain.pages:>4} pages {chain.listed:>8,} listed{window}"
        )
    ok = sync.state == "succeeded" and listed == sizes
    gc_min = 0
    for resource_name, size in sizes.items():
        made, minimum = calls.count(gc_port, "GET", f"/{resource_name}"), ceil(size / GC_PAGE)
        gc_min += minimum
        # Each window beyond the first may cost its own last page and the page its parent
        # had in flight when it was split off.
        allowed = minimum + 2 * (len([c for c in chains if c.resource == resource_name]) - 1)
        ok &= minimum <= made <= allowed
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
    chain_bound = (max(ceil(n / GC_PAGE) for n in sizes.values()) + 2) * latency
    rate_bound = gc_min / (GC_RATE_PER_MINUTE / 60)
    zoho_bound = upserts * latency / ZOHO_CONCURRENCY
    bound = max(chain_bound, rate_bound, zoho_bound)
    ratio = wall / bound
    ok &= ratio <= args.target
    print(
        f"  bounds: longest chain {chain_bound:.1f} s, rate limit {rate_bound:.1f} s, "
        f"Zoho {zoho_bound:.1f} s -> {bound:.1f} s"
    )
    print(
        f"  wall time {wall:.1f} s: x{ratio:.2f} the bound (target x{args.target}); "
        f"x{wall / chain_bound:.2f} the single-chain bound, x{wall / rate_bound:.2f} the "
        "rate-limit bound"
    )
    # On a machine whose cores cannot do the sync's CPU work (ours, the simulators' and the
    # database's) within the target, no overlap meets it: say so, rather than leave the
    # reader to compare the figures above.
    reach = "out of reach on this machine" if cpu_floor > args.target * bound else "reachable"
    print(
        f"  this machine: the CPU work alone needs >= {cpu_floor:.1f} s, x{cpu_floor / bound:.2f} "
        f"the bound (target {reach}); wall time x{wall / cpu_floor:.2f} that floor"
    )
    rss = _rss_mb()
    ok &= rss < RSS_LIMIT_MB
    print(
        f"  our process: peak RSS {rss:.0f} MB (limit {RSS_LIMIT_MB}), {rss_before:.0f} MB "
        "before the sync started"
    )
    print("PASS" if ok else "FAIL", flush=True)
    payments = calls.count(gc_port, "GET", "/payments")
    return Outcome(windows, wall, payments, ceil(args.payments / GC_PAGE), ok)


async def compare(args: argparse.Namespace) -> bool:
    outcomes = [await run(args, windows) for windows in args.payment_windows]
    if len(outcomes) > 1:
        base = outcomes[0]
        print("Payment windows: extra list calls against wall time")
        for outcome in outcomes:
            print(
                f"  at most {outcome.windows} window(s): {outcome.payment_calls} payment list "
                f"calls (+{outcome.payment_calls - outcome.payment_minimum} over the minimum), "
                f"wall {outcome.wall:.1f} s ({outcome.wall - base.wall:+.1f} s)"
            )
    return all(outcome.ok for outcome in outcomes)


async def _watch_stages(runtime: Any, installation_id: Any, started: float) -> None:
    """Print when each stage began and each chain ended (polled, so to within a quarter
    second), and every 1.5 s, as often as the settings page asks, the time left it would
    show, to compare with the time it really took. Only that poll reads the full status (its
    counts scan the mirror): polling it four times a second would be load of our own making."""
    seen: tuple[str | None, frozenset[str]] = (None, frozenset())
    shown_at = -SETTINGS_POLL_SECONDS
    while True:
        now = time.perf_counter() - started
        async with runtime.sessionmaker() as session:
            stage = await session.scalar(
                select(SyncRun.stage).where(SyncRun.installation_id == installation_id)
            )
            done = frozenset(
                (
                    await session.scalars(
                        select(SyncChain.name).where(
                            SyncChain.installation_id == installation_id, SyncChain.done
                        )
                    )
                ).all()
            )
            if now - shown_at >= SETTINGS_POLL_SECONDS:
                installation = await session.get(Installation, installation_id)
                assert installation is not None
                status = await sync_status(session, runtime, installation)
                left = "unknown" if status.seconds_left is None else f"{status.seconds_left} s"
                print(f"  {now:6.1f} s  progress {status.progress:.0%}, estimated {left} left")
                shown_at = now
        if stage != seen[0]:
            print(f"  {now:6.1f} s  stage {stage}", flush=True)
        for name in sorted(done - seen[1]):
            print(f"  {now:6.1f} s  chain {name} done", flush=True)
        seen = (stage, done)
        await asyncio.sleep(0.25)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="large")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--mandate-share", type=float, help="share of customers with a mandate")
    parser.add_argument("--payments", type=int)
    parser.add_argument("--latency-ms", type=int)
    parser.add_argument("--target", type=float, help="largest wall time / bound that passes")
    parser.add_argument(
        "--payment-windows",
        type=int,
        nargs="+",
        default=[4],
        help="SYNC_PAYMENT_WINDOWS settings to run and compare (default 4)",
    )
    parser.add_argument("--serve-gocardless", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-zoho", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    customers, share, payments, latency, target = SCENARIOS[args.scenario]
    args.customers = customers if args.customers is None else args.customers
    args.mandate_share = share if args.mandate_share is None else args.mandate_share
    args.payments = payments if args.payments is None else args.payments
    args.latency_ms = latency if args.latency_ms is None else args.latency_ms
    args.target = target if args.target is None else args.target
    if args.serve_gocardless:
        serve_gocardless(args.serve_gocardless, args.customers, args.payments, args.mandate_share)
    elif args.serve_zoho:
        serve_zoho(args.serve_zoho)
    else:
        sys.exit(0 if asyncio.run(compare(args)) else 1)


if __name__ == "__main__":
    main()
