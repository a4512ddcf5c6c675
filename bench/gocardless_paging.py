"""Benchmark: list 10,000 and 100,000 payments through the GoCardless adapter.

A uvicorn subprocess on 127.0.0.1 serves fixture-shaped pages of 500 payments, so the client
process measures only the adapter (httpx, pacing, parsing). Prints records/s, peak traced
memory for each size, and the CPU cost of parsing one full page.

    .venv/bin/python -m bench.gocardless_paging
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn

from app.adapters.gocardless import GoCardlessClient, PacerRegistry
from app.adapters.gocardless.client import PAYMENTS
from app.adapters.http import build_http_client

PAGE_SIZE = 500
SIZES = (10_000, 100_000)
PEAK_LIMIT_MB = 100.0
PARSE_LIMIT_MS = 20.0
FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "gocardless" / "payments.json"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _payment_parts() -> tuple[bytes, bytes]:
    """The fixture's payment JSON split around its id, so pages are cheap to assemble."""
    payment = json.loads(FIXTURE.read_text())["list"]["body"]["payments"][0]
    payment["id"] = "\x00"
    before, after = json.dumps(payment, separators=(",", ":")).split('"\\u0000"')
    return before.encode() + b'"', b'"' + after.encode()


def make_app() -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    before_id, after_id = _payment_parts()

    def page(total: int, offset: int) -> bytes:
        end = min(offset + PAGE_SIZE, total)
        items = b",".join(before_id + b"PM%010d" % n + after_id for n in range(offset, end))
        cursor = b'"%d"' % end if end < total else b"null"
        return (
            b'{"payments":['
            + items
            + b'],"meta":{"cursors":{"before":null,"after":'
            + cursor
            + b'},"limit":500}}'
        )

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        # Paths look like /n/<total>/payments; the cursor is the next offset.
        total = int(scope["path"].split("/")[2])
        query = dict(
            part.split("=", 1) for part in scope["query_string"].decode().split("&") if part
        )
        body = page(total, int(query.get("after", "0")))
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def serve(port: int) -> None:
    uvicorn.run(make_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"benchmark server did not start on port {port}")


def _client(http: Any, base: str, total: int) -> GoCardlessClient:
    # A pacer that never waits: its bookkeeping is part of the adapter's cost.
    pacer = PacerRegistry(rate_per_minute=10**9, burst=10**6).for_organisation("OR_BENCH")
    return GoCardlessClient(
        http, api_url=f"{base}/n/{total}", access_token="bench", pacer=pacer, priority="background"
    )


async def _drain(client: GoCardlessClient) -> tuple[int, int]:
    count = amount = 0
    async for payment in client.iter_payments():
        count += 1
        amount += payment.amount
    return count, amount


async def run(base: str) -> bool:
    ok = True
    async with build_http_client() as http:
        peaks: dict[int, float] = {}
        for total in SIZES:
            client = _client(http, base, total)
            wall, cpu = time.perf_counter(), time.process_time()
            count, _ = await _drain(client)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert count == total, (count, total)

            gc.collect()
            tracemalloc.start()
            await _drain(client)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peaks[total] = peak / 2**20
            pages = total // PAGE_SIZE
            print(
                f"{total:>7} payments: {total / wall:>9,.0f} records/s  "
                f"wall {wall:6.2f} s  adapter CPU {cpu * 1000 / pages:5.2f} ms/page  "
                f"peak traced memory {peaks[total]:6.2f} MB"
            )
            ok &= peaks[total] < PEAK_LIMIT_MB

        response = await http.get(f"{base}/n/{PAGE_SIZE}/payments", params={"limit": "500"})
        content = response.content
        timings = []
        for _ in range(200):
            start = time.process_time()
            envelope = PAYMENTS.many.model_validate_json(content)
            timings.append((time.process_time() - start) * 1000)
        assert len(envelope.items) == PAGE_SIZE
        median, mean, worst = statistics.median(timings), statistics.fmean(timings), max(timings)
        # The worst case is the parse that happened to trigger a full cyclic-GC pass, whose cost
        # scales with the whole heap; the mean spreads it over the pages, as a long sync does.
        print(
            f"parse one page of 500 ({len(content) / 1024:.0f} KiB), CPU: median {median:.2f} ms, "
            f"mean {mean:.2f} ms, worst {worst:.2f} ms (limit {PARSE_LIMIT_MS:.0f} ms)"
        )
        ok &= mean < PARSE_LIMIT_MS

    growth = peaks[SIZES[1]] / peaks[SIZES[0]]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory {SIZES[1]:,} vs {SIZES[0]:,}: x{growth:.2f}; process max RSS {rss_mb:.0f} MB"
    )
    # Linear growth would be x10; what remains is garbage awaiting collection.
    ok &= growth < 2
    print("PASS" if ok else "FAIL")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.gocardless_paging", "--serve", str(port)]
    )
    try:
        _wait_until_listening(port)
        ok = asyncio.run(run(f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
