"""Benchmark: the webhook load end to end, from the webhook to the merchant's CRM.

Both simulators run in subprocesses with the real limits (GoCardless: 1,000 requests a minute
per token; Zoho: 10 calls in flight per org) and 50 ms per call; our service runs as
`gocardless-zoho serve` (the default deployment: it starts its worker as a child process),
or with `--separate-worker` as `serve --no-worker` plus one `gocardless-zoho worker` started
apart, against PostgreSQL database
`$BENCH_DATABASE_NAME`. Every merchant (10 by default) has run Sync Now. Then the payments
are created at GoCardless (so the worker's bulk refresh finds them) and their signed webhooks
are sent open-loop, round robin over the merchants, as `bench.webhook_ingest` sends them:

- 500 requests a second of one event each, for 60 s;
- 50 requests a second of 100 events each, for 60 s.

Printed: acknowledgement p50/p99 (target p99 under 100 ms), events acknowledged, the time from
the end of the load until every acknowledged event is in the CRM with its status (target
240 s), 429s from either provider, GoCardless calls per 1,000 events, and the load average.

    .venv/bin/python -m bench.webhook_load [--separate-worker] [--seconds 60] [--merchants 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import httpx

from app.log import configure_logging
from bench.crash_recovery import (
    WEBHOOK_SECRET,
    Probe,
    Service,
    faults,
    install,
    service_config,
    until,
)
from bench.fairness import LATENCY_MS, Load, _gc_usage, serve_gocardless, serve_zoho
from bench.servers import (
    cpu_by_party,
    cpu_used_by_party,
    free_port,
    parties,
    recreate_database,
    server,
)
from bench.webhook_ingest import (
    P99_TARGET_MS,
    Outcome,
    percentile,
    request_bytes,
    send_open_loop,
    slowest_slices,
)

PHASES = ((500, 1), (50, 100))  # requests a second, events a request
CRM_TARGET_SECONDS = 240.0


async def create_webhooks(
    http: httpx.AsyncClient, gc_base: str, names: list[str], requests: int, size: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    """`requests` webhooks of `size` new payments' events each, round robin over the merchants."""
    per_merchant: dict[str, list[dict[str, Any]]] = {}
    for i, name in enumerate(names):
        count = len(range(i, requests, len(names))) * size
        if count:
            response = await http.post(
                f"{gc_base}/_bench/{name}/payments", params={"count": count}, timeout=600
            )
            per_merchant[name] = response.json()
    webhooks = []
    for n in range(requests):
        name = names[n % len(names)]
        start = (n // len(names)) * size
        webhooks.append((name, per_merchant[name][start : start + size]))
    return webhooks


def signed_request(port: int, events: list[dict[str, Any]]) -> bytes:
    body = json.dumps({"events": events, "meta": {"webhook_id": "WB0BENCH"}}).encode()
    return request_bytes(port, body)


async def run(
    *, separate_worker: bool, seconds: float, merchants: int, deadline: float, processes: int
) -> bool:
    assert WEBHOOK_SECRET == "bench-webhook-secret"  # the secret request_bytes signs with
    names = [f"M{i}" for i in range(merchants)]
    database_url = await recreate_database()
    gc_port, zoho_port, port = free_port(), free_port(), free_port()
    gc_base, zoho_base = f"http://127.0.0.1:{gc_port}", f"http://127.0.0.1:{zoho_port}"
    sims = ["-m", "bench.webhook_load", "--merchants", str(merchants)]
    with (
        server([*sims, "--serve-gocardless", str(gc_port)], gc_port) as gc,
        server([*sims, "--serve-zoho", str(zoho_port)], zoho_port) as zoho,
    ):
        env, settings = service_config(database_url, port, gc_base, zoho_base)
        configure_logging(json=False, level="WARNING")
        await faults(gc_base, zoho_base, LATENCY_MS)
        for name in names:
            await install(settings, gc[name], zoho[name])
        service = Service(env, port, processes)
        probe = Probe(database_url)
        try:
            await service.serve(worker=not separate_worker)
            if separate_worker:
                await service.start("worker", "worker")

            async def synced() -> bool:
                runs = await probe.scalar(
                    "SELECT count(*) FROM sync_runs WHERE state = 'succeeded'"
                )
                pending = await probe.scalar(
                    "SELECT count(*) FROM gc_payments WHERE crm_state = 'pending'"
                )
                return int(runs) == merchants and int(pending) == 0

            await until(synced, 0.5)
            serve_pid = service.processes["serve"].pid
            return await measure(
                gc_base, zoho_base, port, gc, zoho, names, seconds, deadline, serve_pid
            )
        finally:
            await service.stop_all()
            await probe.engine.dispose()


async def measure(
    gc_base: str,
    zoho_base: str,
    port: int,
    gc: dict[str, Any],
    zoho: dict[str, Any],
    names: list[str],
    seconds: float,
    deadline: float,
    serve_pid: int,
) -> bool:
    def everyone() -> dict[str, list[int]]:
        return parties(serve_pid, [gc["pid"], zoho["pid"]], "load generator")

    async with httpx.AsyncClient(timeout=60) as http:
        phases = []
        for rate, size in PHASES:
            webhooks = await create_webhooks(http, gc_base, names, int(rate * seconds), size)
            phases.append((rate, size, webhooks))
        print(
            f"{len(names)} merchants synced, "
            f"{sum(len(w) * s for _, s, w in phases):,} payments created; the load starts",
            flush=True,
        )
        before = await _gc_usage(http, gc_base)
        load = Load()
        stop = asyncio.Event()
        sampler = asyncio.create_task(load.sample(stop))
        acknowledged: dict[str, set[str]] = {name: set() for name in names}
        outcomes: list[Outcome] = []
        for rate, size, webhooks in phases:
            payloads = [signed_request(port, events) for _, events in webhooks]
            who = everyone()
            before_cpu = cpu_by_party(who)
            outcome = await send_open_loop(port, rate, payloads)
            used = cpu_used_by_party(who, before_cpu)
            print(
                f"CPU during {rate} req/s x {size}: "
                + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in used.items())
                + f" (2 cores give {2 * seconds:.0f} s)",
                flush=True,
            )
            outcomes.append(outcome)
            for n in outcome.acknowledged:
                name, events = webhooks[n]
                acknowledged[name].update(e["links"]["payment"] for e in events)
        load_ended = time.perf_counter()
        who = everyone()
        drain_cpu = cpu_by_party(who)
        for name in names:
            await http.post(
                f"{zoho_base}/_bench/{zoho[name]['org_id']}/expect",
                json={"ids": sorted(acknowledged[name]), "status": "pending_submission"},
            )
        missing = sum(len(ids) for ids in acknowledged.values())
        in_crm_after: float | None = None
        while time.perf_counter() - load_ended < deadline:
            missing = 0
            for name in names:
                answer = await http.get(f"{zoho_base}/_bench/{zoho[name]['org_id']}/missing")
                missing += int(answer.json()["missing"])
            if missing == 0:
                in_crm_after = time.perf_counter() - load_ended
                break
            await asyncio.sleep(2.0)
        print(
            "CPU from the end of the load until then: "
            + ", ".join(
                f"{name} {seconds:.1f} s"
                for name, seconds in cpu_used_by_party(who, drain_cpu).items()
            ),
            flush=True,
        )
        stop.set()
        await sampler
        after = await _gc_usage(http, gc_base)
        zoho_counters = (await http.get(f"{zoho_base}/_sim/counters")).json()

    def used(field: str) -> int:
        return sum(
            after.get(gc[n]["access_token"], {}).get(field, 0)
            - before.get(gc[n]["access_token"], {}).get(field, 0)
            for n in names
        )

    ok = True
    for (rate, size, webhooks), outcome in zip(phases, outcomes, strict=True):
        latencies = outcome.latencies_ms
        p99 = percentile(latencies, 0.99)
        print(
            f"{rate} req/s x {size} event{'s' if size > 1 else ''} ({seconds:.0f} s): "
            f"{len(outcome.acknowledged):,} of {len(webhooks):,} acknowledged, "
            f"statuses {outcome.statuses}, connection failures {outcome.failures}; "
            f"ack p50 {percentile(latencies, 0.5):.1f} ms, p99 {p99:.1f} ms "
            f"(target {P99_TARGET_MS:.0f}), max {max(latencies):.1f} ms; slowest: "
            f"{slowest_slices(outcome)}"
        )
        ok &= p99 < P99_TARGET_MS and len(outcome.acknowledged) == len(webhooks)
    events = sum(len(ids) for ids in acknowledged.values())
    if in_crm_after is None:
        print(
            f"{missing:,} of {events:,} acknowledged events NOT in the CRM {deadline:.0f} s "
            f"after the load (target: all within {CRM_TARGET_SECONDS:.0f} s)"
        )
        ok = False
    else:
        print(
            f"all {events:,} acknowledged events in the CRM {in_crm_after:.1f} s after the end "
            f"of the load (target {CRM_TARGET_SECONDS:.0f} s)"
        )
        ok &= in_crm_after <= CRM_TARGET_SECONDS
    gc_429, zoho_429 = used("refused"), zoho_counters.get("crm.rejected.concurrency", 0)
    print(
        f"429s: GoCardless {gc_429}, Zoho {zoho_429} (target 0); GoCardless calls "
        f"{used('allowed')}, {used('allowed') / max(events, 1) * 1000:.1f} per 1,000 events"
    )
    print(f"while measuring: {load}")
    ok &= gc_429 + zoho_429 == 0
    print("PASS" if ok else "FAIL")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-gocardless", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-zoho", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--merchants", type=int, default=10, help="merchants sharing the load")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument(
        "--deadline", type=float, default=600.0, help="seconds to wait for the CRM after the load"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="`serve --processes` (default %(default)s, as the Dockerfile)",
    )
    parser.add_argument(
        "--separate-worker",
        action="store_true",
        help="run `serve --no-worker` plus a `worker` started apart instead of `serve` alone",
    )
    args = parser.parse_args()
    names = [f"M{i}" for i in range(args.merchants)]
    if args.serve_gocardless:
        serve_gocardless(args.serve_gocardless, [(name, 40, 80) for name in names])
    elif args.serve_zoho:
        serve_zoho(args.serve_zoho, names)
    else:
        ok = asyncio.run(
            run(
                separate_worker=args.separate_worker,
                seconds=args.seconds,
                merchants=args.merchants,
                deadline=args.deadline,
                processes=args.processes,
            )
        )
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
