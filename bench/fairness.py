"""Benchmark: two merchants on the real limits, one in a storm, the other waiting for nothing.

Both simulators run in subprocesses with the real limits (GoCardless: 1,000 requests a minute
per token; Zoho: 10 calls in flight per org) and 50 ms per call; our service runs as
`gocardless-zoho serve --no-worker` plus one `gocardless-zoho worker` (or `serve` with its
worker: `--in-process-worker`), against PostgreSQL database `$BENCH_DATABASE_NAME`. Both
merchants have run Sync Now. Then, at once:

- merchant A creates 20,000 payments at GoCardless, announced in webhooks of 100 events, 50
  webhooks a second;
- merchant B creates one payment a second for 60 s, each announced by its own webhook.

GoCardless's event list holds every event (the bench posts the webhooks GoCardless would send,
signed with the endpoint secret). Webhook-to-CRM is the time from posting a webhook until the
CRM simulator holds the payment's record with its status. Printed: B's webhook-to-CRM p50/p99
(target p99 < 10 s, a lone event < 5 s), when all 20,000 of A's payments were in the CRM
(target 240 s), 429s from either provider (target 0), GoCardless calls per 1,000 events
(target 5), and the load average while measuring (the machine may be shared).

    .venv/bin/python -m bench.fairness
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from app.log import configure_logging
from bench.crash_recovery import (
    CLIENT_ID,
    CLIENT_SECRET,
    WEBHOOK_SECRET,
    Probe,
    Service,
    faults,
    install,
    service_config,
    until,
)
from bench.servers import announce, free_port, recreate_database, server

LATENCY_MS = 50
STORM, STORM_BATCH, STORM_RATE = 20_000, 100, 50.0
TRICKLE, TRICKLE_RATE = 60, 1.0
DEADLINE_SECONDS = 600.0


MERCHANTS = (("A", 400, 800), ("B", 40, 80))  # name, customers, payments seeded


def serve_gocardless(
    port: int, merchants_seeded: Sequence[tuple[str, int, int]] = MERCHANTS
) -> None:
    """The merchants; `POST /_bench/{org}/payments?count=N` creates N payments now, as the
    merchant's API calls would, and answers the events GoCardless records for them."""
    from app.simulators.gocardless import SimulatorOptions, SimulatorState, create_app
    from app.simulators.gocardless.events import emit
    from app.simulators.gocardless.formats import SCHEME_CURRENCY
    from app.simulators.gocardless.lifecycle import next_possible_charge_date
    from app.simulators.gocardless.resources import Payment
    from tests.e2e.seeding import seed_gocardless

    state = SimulatorState(SimulatorOptions(seed=1, public_url=f"http://127.0.0.1:{port}"))
    merchants = {}
    for name, customers, payments in merchants_seeded:
        org = state.create_organisation(name=f"Merchant {name} Ltd")
        seed_gocardless(state, org, customers=customers, payments=payments, seed=len(merchants))
        merchants[name] = org
    usable = {
        name: [m for m in org.mandates.newest_first() if m.status == "active"]
        for name, org in merchants.items()
    }
    app: FastAPI = create_app(state)

    @app.post("/_bench/{name}/payments")
    async def create_payments(name: str, count: int) -> list[dict[str, Any]]:
        org, mandates = merchants[name], usable[name]
        events = []
        for _ in range(count):
            mandate = mandates[len(org.payments) % len(mandates)]
            payment = Payment(
                id=state.ids.next("PM"),
                created_at=state.clock.now(),
                amount=1000 + len(org.payments),
                currency=SCHEME_CURRENCY[mandate.scheme],
                charge_date=next_possible_charge_date(state, mandate) or state.clock.now().date(),
                mandate=mandate.id,
                creditor=mandate.creditor,
                customer=mandate.customer,
                scheme=mandate.scheme,
                status="pending_submission",
                description=f"Bench {name}",
                reference=None,
                app_fee=None,
                retry_if_possible=False,
                metadata={},
            )
            org.payments.add(payment.id, payment, mandate=mandate.id, customer=mandate.customer)
            event = emit(
                state, org, resource_type="payments", action="created", resource_id=payment.id
            )
            events.append(event.to_json())
        return events

    announce(
        {
            name: {
                "organisation_id": org.id,
                "creditor_id": org.creditor.id,
                "access_token": state.issue_token(org.id).token,
            }
            for name, org in merchants.items()
        }
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_zoho(port: int, names: Sequence[str] = ("A", "B")) -> None:
    """A CRM org for each merchant; `GET /_bench/{org}/payments` answers
    {GoCardless payment id: Status}."""
    from app.simulators.zoho import ZohoSimOptions, ZohoSimState, create_app
    from app.simulators.zoho.seed import seed_org
    from app.simulators.zoho.state import FULL_SCOPES

    state = ZohoSimState(ZohoSimOptions(base_url=f"http://127.0.0.1:{port}"))
    state.accounts.register_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/oauth/zoho/callback")
    orgs = {name: seed_org(state).org for name in names}
    app: FastAPI = create_app(state)

    @app.get("/_bench/{org_id}/payments")
    async def payments(org_id: str) -> dict[str, str]:
        return _statuses(org_id)

    def _statuses(org_id: str) -> dict[str, str]:
        org = next(o for o in orgs.values() if o.id == org_id)
        store = org.store("GoCardless_Payments")
        assert store is not None
        return {
            str(r.get("GoCardless_Payment_ID")): str(r.get("Status"))
            for r in store.records.values()
        }

    # A load of many thousand payments is polled for by count: answering every status each
    # time cost the simulator and the poller more CPU than the worker they measure.
    expected: dict[str, tuple[set[str], str]] = {}

    @app.post("/_bench/{org_id}/expect")
    async def expect(org_id: str, body: dict[str, Any]) -> None:
        expected[org_id] = (set(body["ids"]), str(body["status"]))

    @app.get("/_bench/{org_id}/missing")
    async def missing(org_id: str) -> dict[str, int]:
        ids, status = expected[org_id]
        statuses = _statuses(org_id)
        return {"missing": sum(1 for p in ids if statuses.get(p) != status)}

    announce(
        {
            name: {
                "org_id": org.id,
                **state.accounts.mint_direct(
                    CLIENT_ID, org.id, org.admin_user_id, FULL_SCOPES, offline=True
                ),
            }
            for name, org in orgs.items()
        }
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _signed(events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"events": events, "meta": {"webhook_id": "WB0BENCH"}}).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "Webhook-Signature": signature}


class Load:
    """The machine's load average, sampled while measuring."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.samples.append(os.getloadavg()[0])
            try:
                await asyncio.wait_for(stop.wait(), timeout=5)
            except TimeoutError:
                continue

    def __str__(self) -> str:
        if not self.samples:
            return "n/a"
        return (
            f"1-min load average {min(self.samples):.1f} to {max(self.samples):.1f} "
            f"(mean {statistics.mean(self.samples):.1f}) on {os.cpu_count()} cores"
        )


async def _gc_usage(admin: httpx.AsyncClient, gc_base: str) -> dict[str, dict[str, int]]:
    tokens: dict[str, dict[str, int]] = (await admin.get(f"{gc_base}/_sim/rate-limit")).json()[
        "tokens"
    ]
    return tokens


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def measure(
    gc_base: str,
    zoho_base: str,
    port: int,
    gc: dict[str, Any],
    zoho: dict[str, Any],
    probe: Probe,
    pids: list[int],
) -> dict[str, Any]:
    webhook_url = f"http://127.0.0.1:{port}/webhooks/gocardless"
    sent_at: dict[str, float] = {}  # B's payment id -> when its webhook was posted
    seen_at: dict[str, float] = {}
    a_ids: set[str] = set()
    acks: list[float] = []
    refused: list[int] = []
    load = Load()
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as http:
        before = await _gc_usage(http, gc_base)
        cpu_before = cpu_seconds(pids)
        started = time.perf_counter()
        sampler = asyncio.create_task(load.sample(stop))

        async def post(events: list[dict[str, Any]]) -> None:
            body, headers = _signed(events)
            posted = time.perf_counter()
            response = await http.post(webhook_url, content=body, headers=headers)
            acks.append(time.perf_counter() - posted)
            if response.status_code != 204:
                refused.append(response.status_code)

        a_created = asyncio.Event()

        async def storm() -> None:
            posts = []
            for n in range(STORM // STORM_BATCH):
                await asyncio.sleep(max(0.0, started + n / STORM_RATE - time.perf_counter()))
                events = (
                    await http.post(f"{gc_base}/_bench/A/payments", params={"count": STORM_BATCH})
                ).json()
                a_ids.update(e["links"]["payment"] for e in events)
                posts.append(asyncio.create_task(post(events)))
            a_created.set()
            await asyncio.gather(*posts)

        async def trickle() -> None:
            posts = []
            for n in range(TRICKLE):
                await asyncio.sleep(max(0.0, started + n / TRICKLE_RATE - time.perf_counter()))
                events = (
                    await http.post(f"{gc_base}/_bench/B/payments", params={"count": 1})
                ).json()
                sent_at[events[0]["links"]["payment"]] = time.perf_counter()
                posts.append(asyncio.create_task(post(events)))
            await asyncio.gather(*posts)

        async def watch_b() -> None:
            while len(seen_at) < TRICKLE:
                records = (
                    await http.get(f"{zoho_base}/_bench/{zoho['B']['org_id']}/payments")
                ).json()
                now = time.perf_counter()
                for payment_id in sent_at:
                    if (
                        payment_id not in seen_at
                        and records.get(payment_id) == "pending_submission"
                    ):
                        seen_at[payment_id] = now
                await asyncio.sleep(0.05)

        a_done: list[float] = []
        stages: dict[str, float] = {}

        async def watch_stages() -> None:
            # When the inbox and the CRM queue were last empty, to tell where time goes.
            while not a_done:
                await asyncio.sleep(1.0)
                if len(a_ids) < STORM:
                    continue
                pending = await probe.scalar(
                    "SELECT count(*) FROM gc_events WHERE status = 'pending'"
                )
                if int(pending) == 0 and "inbox" not in stages:
                    stages["inbox"] = time.perf_counter() - started

        async def watch_a() -> None:
            org = zoho["A"]["org_id"]
            await a_created.wait()
            await http.post(
                f"{zoho_base}/_bench/{org}/expect",
                json={"ids": sorted(a_ids), "status": "pending_submission"},
            )
            while True:
                await asyncio.sleep(1.0)
                missing = (await http.get(f"{zoho_base}/_bench/{org}/missing")).json()["missing"]
                if missing == 0:
                    a_done.append(time.perf_counter() - started)
                    return

        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                await asyncio.gather(storm(), trickle(), watch_a(), watch_b(), watch_stages())
        finally:
            stop.set()
            await sampler
        cpu_used = cpu_seconds(pids) - cpu_before
        after = await _gc_usage(http, gc_base)
        zoho_counters = (await http.get(f"{zoho_base}/_sim/counters")).json()

    def used(name: str, field: str) -> int:
        token = gc[name]["access_token"]
        return after.get(token, {}).get(field, 0) - before.get(token, {}).get(field, 0)

    latencies = sorted(seen_at[p] - sent_at[p] for p in seen_at)
    ordered_acks = sorted(acks)
    return {
        "b_p50": latencies[len(latencies) // 2],
        "b_p99": latencies[min(int(0.99 * len(latencies)), len(latencies) - 1)],
        "b_max": latencies[-1],
        "b_first": seen_at[next(iter(sent_at))] - sent_at[next(iter(sent_at))],
        "a_all_in_crm": a_done[0],
        "gc_calls_a": used("A", "allowed"),
        "gc_calls_b": used("B", "allowed"),
        "gc_429": used("A", "refused") + used("B", "refused"),
        "zoho_429": zoho_counters.get("crm.rejected.concurrency", 0),
        "ack_p99_ms": 1000 * ordered_acks[min(int(0.99 * len(acks)), len(acks) - 1)],
        "webhooks_refused": len(refused),
        "load": str(load),
        "inbox_empty": stages.get("inbox"),
        "cpu": cpu_used,
    }


async def run(*, in_process_worker: bool) -> bool:
    database_url = await recreate_database()
    gc_port, zoho_port, port = free_port(), free_port(), free_port()
    gc_base, zoho_base = f"http://127.0.0.1:{gc_port}", f"http://127.0.0.1:{zoho_port}"
    with (
        server(["-m", "bench.fairness", "--serve-gocardless", str(gc_port)], gc_port) as gc,
        server(["-m", "bench.fairness", "--serve-zoho", str(zoho_port)], zoho_port) as zoho,
    ):
        env, settings = service_config(database_url, port, gc_base, zoho_base)
        configure_logging(json=False, level="WARNING")
        await faults(gc_base, zoho_base, LATENCY_MS)
        for name in ("A", "B"):
            await install(settings, gc[name], zoho[name])
        service = Service(env, port)
        probe = Probe(database_url)
        try:
            await service.serve(worker=in_process_worker)
            if not in_process_worker:
                await service.start("worker", "worker")

            async def synced() -> bool:
                runs = await probe.scalar(
                    "SELECT count(*) FROM sync_runs WHERE state = 'succeeded'"
                )
                pending = await probe.scalar(
                    "SELECT count(*) FROM gc_payments WHERE crm_state = 'pending'"
                )
                return int(runs) == 2 and int(pending) == 0

            await until(synced, 0.5)
            print("both merchants synced; the storm and the trickle start", flush=True)
            pids = [process.pid for process in service.processes.values()]
            figures = await measure(gc_base, zoho_base, port, gc, zoho, probe, pids)
        finally:
            await service.stop_all()
            await probe.engine.dispose()
    per_thousand = figures["gc_calls_a"] / STORM * 1000
    print(
        f"B's webhook-to-CRM ({TRICKLE} events, 1 a second): p50 {figures['b_p50']:.2f} s, "
        f"p99 {figures['b_p99']:.2f} s, max {figures['b_max']:.2f} s, "
        f"first {figures['b_first']:.2f} s "
        "(target p99 < 10 s, a lone event < 5 s)"
    )
    print(
        f"A's {STORM:,} events all in the CRM {figures['a_all_in_crm']:.1f} s after the storm "
        "began (target 240 s)"
    )
    print(
        f"429s: GoCardless {figures['gc_429']}, Zoho {figures['zoho_429']} (target 0); "
        f"webhooks refused {figures['webhooks_refused']}, acknowledgement p99 "
        f"{figures['ack_p99_ms']:.0f} ms"
    )
    print(
        f"GoCardless calls: A {figures['gc_calls_a']} for its storm, {per_thousand:.1f} per "
        f"1,000 events (target 5); B {figures['gc_calls_b']} for its {TRICKLE} lone events"
    )
    inbox = figures["inbox_empty"]
    print(
        f"   every event processed (inbox empty) after "
        f"{'n/a' if inbox is None else f'{inbox:.1f} s'}; our processes used "
        f"{figures['cpu']:.1f} s of CPU meanwhile"
    )
    print(f"while measuring: {figures['load']}")
    ok = (
        figures["b_p99"] < 10
        and figures["a_all_in_crm"] <= 240
        and figures["gc_429"] + figures["zoho_429"] == 0
        and per_thousand <= 5
    )
    print("PASS" if ok else "FAIL")
    return ok


def main() -> None:
    global STORM, TRICKLE
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-gocardless", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-zoho", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--storm", type=int, default=STORM, help="A's events (default 20,000)")
    parser.add_argument("--trickle", type=int, default=TRICKLE, help="B's events (default 60)")
    parser.add_argument(
        "--in-process-worker",
        action="store_true",
        help="run the worker inside `serve` instead of as its own process",
    )
    args = parser.parse_args()
    if args.serve_gocardless:
        serve_gocardless(args.serve_gocardless)
    elif args.serve_zoho:
        serve_zoho(args.serve_zoho)
    else:
        STORM, TRICKLE = args.storm, args.trickle
        sys.exit(0 if asyncio.run(run(in_process_worker=args.in_process_worker)) else 1)


if __name__ == "__main__":
    main()
