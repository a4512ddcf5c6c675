"""Three worker processes at once stay inside one merchant's budgets, counted at the
simulators: GoCardless requests per minute per token, Zoho calls in flight per org."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.gocardless.pacing import default_burst
from app.services.budgets import WINDOW_SLACK_SECONDS
from tests.budgets.processes import READY
from tests.conftest import ENCRYPTION_KEY, TEST_DATABASE_URL

RATE_PER_MINUTE = 150  # low, so that a few seconds of three unshared budgets would overrun it
ZOHO_IN_FLIGHT = 4
WORK_SECONDS = 6.0
WORKERS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _process(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.budgets.processes", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _announced(process: subprocess.Popen[str], port: int) -> dict[str, Any]:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(READY):
            details: dict[str, Any] = json.loads(line[len(READY) :])
            break
    else:
        raise RuntimeError("the simulator exited before it was ready")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return details
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


async def test_three_workers_share_one_budget_per_merchant(clean_db: AsyncEngine) -> None:
    gc_port, zoho_port = _free_port(), _free_port()
    gc_base, zoho_base = f"http://127.0.0.1:{gc_port}", f"http://127.0.0.1:{zoho_port}"
    with ExitStack() as stack:
        gc_sim = stack.enter_context(_process(["gocardless", str(gc_port), str(RATE_PER_MINUTE)]))
        zoho_sim = stack.enter_context(_process(["zoho", str(zoho_port), str(ZOHO_IN_FLIGHT)]))
        gc = await asyncio.to_thread(_announced, gc_sim, gc_port)
        zoho = await asyncio.to_thread(_announced, zoho_sim, zoho_port)
        async with httpx.AsyncClient() as admin:
            slow = {"target": "crm", "latency_ms": 50}
            (await admin.post(f"{zoho_base}/_sim/faults", json=slow)).raise_for_status()
            env = {
                "DATABASE_URL": TEST_DATABASE_URL,
                "SECRET_KEY": "budget-test-secret-key-0123456789",
                "ENCRYPTION_KEYS": ENCRYPTION_KEY,
                "ADMIN_TOKEN": "budget-test-admin-token-0123456789abcdef",
                "GOCARDLESS_API_URL": gc_base,
                "ZOHO_API_URL": zoho_base,
                "GOCARDLESS_RATE_PER_MINUTE": str(RATE_PER_MINUTE),
                "ZOHO_CONCURRENCY": str(ZOHO_IN_FLIGHT),
                "LOG_JSON": "false",
                "BUDGET_GC_TOKEN": gc["access_token"],
                "BUDGET_GC_ORG": gc["organisation_id"],
                "BUDGET_ZOHO_TOKEN": zoho["access_token"],
                "BUDGET_ZOHO_ORG": zoho["org_id"],
            }
            started = time.monotonic()
            workers = [
                stack.enter_context(_process(["worker", str(WORK_SECONDS)], env))
                for _ in range(WORKERS)
            ]
            outputs = [
                (await asyncio.to_thread(worker.communicate, timeout=120))[0] for worker in workers
            ]
            elapsed = time.monotonic() - started
            assert [worker.returncode for worker in workers] == [0] * WORKERS
            made = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
            gc_usage = (await admin.get(f"{gc_base}/_sim/rate-limit")).json()["tokens"]
            zoho_counters = (await admin.get(f"{zoho_base}/_sim/counters")).json()

    # Every worker got its turn at both providers.
    assert all(m["gocardless"] > 0 and m["zoho"] > 0 for m in made), made
    usage = gc_usage[gc["access_token"]]
    assert usage["refused"] == 0
    # One bucket for the three: its burst plus its refill over the run, never three of them.
    burst = default_burst(RATE_PER_MINUTE)
    one_budget = burst + (RATE_PER_MINUTE - burst) / (60 + WINDOW_SLACK_SECONDS) * elapsed
    assert burst <= usage["allowed"] <= one_budget + 1
    assert usage["busiest_minute"] <= RATE_PER_MINUTE
    assert zoho_counters.get("crm.rejected.concurrency", 0) == 0
    assert zoho_counters[f"crm.in_flight.peak.{zoho['org_id']}"] == ZOHO_IN_FLIGHT
    assert zoho_counters["crm.requests"] == sum(m["zoho"] for m in made)
