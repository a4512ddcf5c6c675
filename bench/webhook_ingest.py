"""Benchmark: GoCardless webhook ingest by our service under uvicorn.

`gocardless-zoho serve --no-worker` runs in a subprocess against PostgreSQL (database
`gocardless_zoho_bench`); this process is the load: signed webhooks sent open-loop (each at
its scheduled time, whether or not earlier ones were answered, so a slow server cannot
slow the load down and hide its own latency) over keep-alive connections:

- 500 requests a second of one event each, for 60 s;
- 50 requests a second of 100 events each, for 60 s.

Each scenario starts with a few seconds at the same rate that are left out of the latency
figures (a freshly started process opens its pool and prepares its statements; they are
printed apart). Prints acknowledgement latency (p50, p99, max, from the scheduled send
time), answers that were not 204, and events stored against events sent, warm-up
included. Targets: p99 under 100 ms, no event lost.

    .venv/bin/python -m bench.webhook_ingest [--seconds 60]
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
from dataclasses import dataclass, field

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from app.models import InboxEvent
from app.runtime import open_runtime
from app.settings import Settings
from bench.servers import (
    cpu_by_pid,
    cpu_since,
    free_port,
    postgres_pids,
    recreate_database,
    store_installation,
    wait_until_listening,
)

ORGANISATION = "OR000BENCH0001"
SECRET = "bench-webhook-secret"
P99_TARGET_MS = 100.0
CONNECTIONS = 64


@dataclass(frozen=True)
class Scenario:
    name: str
    rate: int  # requests a second
    events_per_request: int


SCENARIOS = (
    Scenario("500 req/s x 1 event", 500, 1),
    Scenario("50 req/s x 100 events", 50, 100),
)


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    # When each of `latencies_ms` was due, in seconds from the start: where the slow ones were.
    due_s: list[float] = field(default_factory=list)
    # The first seconds: a process just started opens its pool and prepares its statements.
    warmup_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0
    acknowledged: list[int] = field(default_factory=list)  # requests answered 204


def webhook(first_event: int, count: int) -> bytes:
    events = [
        {
            "id": f"EV{first_event + n:012d}",
            "created_at": "2026-11-30T10:00:00.000Z",
            "resource_type": "payments",
            "action": "confirmed",
            "links": {
                "payment": f"PM{(first_event + n) % 5000:010d}",
                "organisation": ORGANISATION,
            },
            "details": {
                "origin": "gocardless",
                "cause": "payment_confirmed",
                "description": "Enough time has passed since the payment was submitted.",
            },
            "metadata": {},
            "resource_metadata": {},
        }
        for n in range(count)
    ]
    return json.dumps({"events": events, "meta": {"webhook_id": f"WB{first_event:012d}"}}).encode()


def request_bytes(port: int, body: bytes) -> bytes:
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    head = (
        f"POST /webhooks/gocardless HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nWebhook-Signature: {signature}\r\n"
        f"User-Agent: gocardless-webhook-service/1.1\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Status of one HTTP/1.1 response, its body read and dropped."""
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def run_scenario(
    port: int, scenario: Scenario, seconds: float, warmup: float, first_event: int
) -> Outcome:
    total = int(scenario.rate * (warmup + seconds))
    payloads = [
        request_bytes(
            port,
            webhook(first_event + n * scenario.events_per_request, scenario.events_per_request),
        )
        for n in range(total)
    ]
    return await send_open_loop(port, scenario.rate, payloads, int(scenario.rate * warmup))


async def send_open_loop(
    port: int, rate: float, payloads: list[bytes], warmup_requests: int = 0
) -> Outcome:
    """Open loop: request n goes at start + n/rate over whichever connection is free."""
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    outcome = Outcome()
    start = time.perf_counter() + 0.2

    async def send(n: int) -> None:
        due = start + n / rate
        reader, writer = await idle.get()
        try:
            writer.write(payloads[n])
            await writer.drain()
            status = await read_response(reader)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            outcome.failures += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            latency = (time.perf_counter() - due) * 1000
            if n < warmup_requests:
                outcome.warmup_ms.append(latency)
            else:
                outcome.latencies_ms.append(latency)
                outcome.due_s.append(n / rate)
            outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
            if status == 204:
                outcome.acknowledged.append(n)
        idle.put_nowait((reader, writer))

    # Each request's task starts when it is due: 15,000 tasks created at once, each asleep
    # until its time, took the generator half a second to set up, and the requests due
    # meanwhile went in a burst, late, and were counted as the server's latency.
    sending: set[asyncio.Task[None]] = set()
    for n in range(len(payloads)):
        await asyncio.sleep(max(start + n / rate - time.perf_counter(), 0))
        task = asyncio.create_task(send(n))
        sending.add(task)
        task.add_done_callback(sending.discard)
    await asyncio.gather(*sending)
    while not idle.empty():
        _, writer = idle.get_nowait()
        writer.close()
    return outcome


def slowest_slices(outcome: Outcome, seconds: float = 1.0, count: int = 5) -> str:
    """The slices of the run with the highest p99: a start-up spike, or pauses throughout."""
    slices: dict[int, list[float]] = {}
    for due, latency in zip(outcome.due_s, outcome.latencies_ms, strict=True):
        slices.setdefault(int(due // seconds), []).append(latency)
    worst = sorted(slices.items(), key=lambda item: -percentile(item[1], 0.99))[:count]
    return ", ".join(
        f"{n * seconds:.0f}-{(n + 1) * seconds:.0f} s p99 {percentile(values, 0.99):.0f} ms"
        for n, values in worst
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


async def stored_events(settings: Settings) -> int:
    async with open_runtime(settings) as runtime, runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


async def run(seconds: float, warmup: float) -> bool:
    database_url = await recreate_database()
    key = Fernet.generate_key().decode()
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "ENCRYPTION_KEYS": key,
        "ADMIN_TOKEN": "bench-admin-token-0123456789abcdefgh",
        "GOCARDLESS_WEBHOOK_SECRET": SECRET,
    }
    settings = Settings(
        database_url=database_url,
        secret_key=env["SECRET_KEY"],  # type: ignore[arg-type]
        encryption_keys=key,  # type: ignore[arg-type]
        admin_token=env["ADMIN_TOKEN"],  # type: ignore[arg-type]
        gocardless_webhook_secret=SECRET,  # type: ignore[arg-type]
        log_json=False,
    )
    await store_installation(settings, zoho_org_id="60099999999", organisation_id=ORGANISATION)
    port = free_port()
    command = [os.path.join(os.path.dirname(sys.executable), "gocardless-zoho")]
    server = await asyncio.create_subprocess_exec(
        *command,
        "serve",
        "--no-worker",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    ok = True
    try:
        await asyncio.to_thread(wait_until_listening, port, _Alive(server))
        sent = 0
        for scenario in SCENARIOS:
            before = await stored_events(settings)
            pids = [server.pid, *postgres_pids()]
            cpu_before = cpu_by_pid(pids)
            outcome = await run_scenario(port, scenario, seconds, warmup, sent)
            cpu = cpu_by_pid(pids)
            events = int(scenario.rate * (warmup + seconds)) * scenario.events_per_request
            sent += events
            stored = await stored_events(settings) - before
            ok &= report(scenario, outcome, events, stored)
            requests = int(scenario.rate * (warmup + seconds))
            ours = cpu.get(server.pid, 0.0) - cpu_before.get(server.pid, 0.0)
            database = cpu_since(cpu_before, cpu) - ours
            print(
                f"  CPU per request: serve {ours / requests * 1000:.2f} ms, "
                f"PostgreSQL {database / requests * 1000:.2f} ms"
            )
    finally:
        server.terminate()
        await server.wait()
    print("PASS" if ok else "FAIL")
    return ok


class _Alive:
    """`wait_until_listening` asks a Popen-like object whether the server still runs."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.returncode: int | None = None

    def poll(self) -> int | None:
        self.returncode = self._process.returncode
        return self.returncode


def report(scenario: Scenario, outcome: Outcome, events: int, stored: int) -> bool:
    latencies = outcome.latencies_ms
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    answered = len(latencies) + len(outcome.warmup_ms)
    print(
        f"{scenario.name}: {answered:,} answered, statuses {outcome.statuses}, "
        f"connection failures {outcome.failures}"
    )
    if outcome.warmup_ms:
        print(
            f"  warm-up ({len(outcome.warmup_ms):,} requests, not in the figures below): "
            f"p50 {percentile(outcome.warmup_ms, 0.5):.1f} ms, "
            f"p99 {percentile(outcome.warmup_ms, 0.99):.1f} ms"
        )
    print(
        f"  ack latency p50 {p50:.1f} ms, p90 {percentile(latencies, 0.9):.1f} ms, "
        f"p99 {p99:.1f} ms (target {P99_TARGET_MS:.0f}), max {max(latencies):.1f} ms, "
        f"mean {statistics.fmean(latencies):.1f} ms"
    )
    print(f"  events sent {events:,}, stored {stored:,}, lost {events - stored:,}")
    return p99 < P99_TARGET_MS and stored == events and outcome.statuses == {204: answered}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measured, per scenario")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds at the same rate before measuring"
    )
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(run(args.seconds, args.warmup)) else 1)


if __name__ == "__main__":
    main()
