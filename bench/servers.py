"""What the end-to-end benchmarks share: servers in subprocesses on localhost ports, a
database of their own, and a transport that counts our outbound calls."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.adapters.http import DEFAULT_LIMITS
from app.migrate import upgrade_head
from app.models import Audience, GoCardlessConnection, ZohoConnection
from app.runtime import open_runtime
from app.services.installations import create_installation
from app.settings import Settings

ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
# Helpers benchmarking side by side each name their own (BENCH_DATABASE_NAME).
BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "gocardless_zoho_bench")
BENCH_DATABASE_URL = ADMIN_URL.rsplit("/", 1)[0] + f"/{BENCH_DB}"
READY = "BENCH-READY "


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_listening(port: int, process: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def announce(details: dict[str, Any]) -> None:
    """A server subprocess tells its parent what it prepared (tokens, ids), then serves."""
    print(READY + json.dumps(details), flush=True)


@contextmanager
def server(
    args: Sequence[str], port: int, env: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Start `python <args>`, wait for its announcement and its port; stop it on exit."""
    process = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert process.stdout is not None
        details: dict[str, Any] = {}
        for line in process.stdout:
            if line.startswith(READY):
                details = json.loads(line[len(READY) :])
                break
        else:
            raise RuntimeError(f"{args} exited before it was ready")
        wait_until_listening(port, process)
        yield {**details, "pid": process.pid}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def recreate_database() -> str:
    """A fresh `gocardless_zoho_bench` database at the latest schema; returns its URL."""
    admin = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    await admin.dispose()
    await asyncio.to_thread(upgrade_head, BENCH_DATABASE_URL)
    return BENCH_DATABASE_URL


class CountingTransport(httpx.AsyncBaseTransport):
    """Our outbound calls over real sockets, counted by (port, method, path, outcome)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS)
        self.calls: Counter[tuple[int | None, str, str, bool]] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        key = (request.url.port, request.method, request.url.path, response.status_code < 400)
        self.calls[key] += 1
        return response

    def count(self, port: int, method: str, path: str, *, ok: bool = True) -> int:
        return self.calls[(port, method, path, ok)]

    def total(self, port: int, *, ok: bool | None = None) -> int:
        return sum(
            n for (p, _m, _path, good), n in self.calls.items() if p == port and ok in (None, good)
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


async def store_installation(
    settings: Settings,
    *,
    zoho_org_id: str,
    organisation_id: str,
    gocardless_token: str = "bench-gocardless-token",
    creditor_id: str = "CR000BENCH0001",
    zoho: dict[str, Any] | None = None,
) -> uuid.UUID:
    """An installation with its connections stored as the two OAuth callbacks would."""
    async with open_runtime(settings) as runtime, runtime.sessionmaker() as session:
        async with session.begin():
            created = await create_installation(
                session, runtime, zoho_org_id=zoho_org_id, audience=Audience.admins, profile_ids=[]
            )
            now = datetime.now(UTC)
            installation_id = created.installation.id
            session.add(
                GoCardlessConnection(
                    installation_id=installation_id,
                    organisation_id=organisation_id,
                    environment="sandbox",
                    access_token_enc=runtime.cipher.encrypt(gocardless_token),
                    creditor_id=creditor_id,
                    creditor_name="Bench Merchant Ltd",
                    verification_status="successful",
                    status="connected",
                    authorized_at=now,
                )
            )
            if zoho is not None:
                session.add(
                    ZohoConnection(
                        installation_id=installation_id,
                        org_id=zoho_org_id,
                        accounts_server=settings.zoho_accounts_url,
                        api_domain=zoho["api_domain"],
                        refresh_token_enc=runtime.cipher.encrypt(zoho["refresh_token"]),
                        access_token_enc=runtime.cipher.encrypt(zoho["access_token"]),
                        access_token_expires_at=now + timedelta(seconds=zoho["expires_in"]),
                        status="connected",
                        authorized_at=now,
                    )
                )
        return installation_id


def cpu_by_pid(pids: Sequence[int]) -> dict[int, float]:
    """CPU (user + system) each of the given processes has used so far, from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def children(pid: int) -> list[int]:
    """The processes `pid` started (by any of its threads), from /proc (Linux)."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found += [int(child) for child in listing.read().split()]
    except FileNotFoundError:
        pass
    return found


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def service_processes(serve: int) -> dict[str, list[int]]:
    """`serve` as its HTTP processes (itself and those `--processes` started) and its worker."""
    started = {child: command_line(child) for child in children(serve)}
    return {
        "HTTP": [serve, *(c for c, cmd in started.items() if "multiprocessing.spawn" in cmd)],
        "worker": [c for c, cmd in started.items() if " worker" in cmd],
    }


def cpu_seconds(pids: Sequence[int]) -> float:
    return sum(cpu_by_pid(pids).values())


def cpu_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU used between two readings by the processes alive at the second (a process that
    started meanwhile counts whole; one that ended meanwhile is not counted)."""
    return sum(used - before.get(pid, 0.0) for pid, used in now.items())


def parties(serve: int, simulators: Sequence[int], here: str) -> dict[str, list[int]]:
    """Who uses the CPU in a benchmark: `serve`'s HTTP processes and worker, the simulators,
    the benchmark database's backends, and this process (named `here`). Read it after the
    service has opened its pool: backends started later are not counted."""
    return {
        **service_processes(serve),
        "simulators": list(simulators),
        "PostgreSQL": postgres_pids(),
        here: [os.getpid()],
    }


def cpu_by_party(who: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    return {name: cpu_by_pid(pids) for name, pids in who.items()}


def cpu_used_by_party(
    who: dict[str, list[int]], before: dict[str, dict[int, float]]
) -> dict[str, float]:
    """Each party's CPU seconds since `before` (cpu_by_party), as `cpu_since` counts them."""
    return {name: cpu_since(before[name], cpu_by_pid(pids)) for name, pids in who.items()}


def postgres_pids() -> list[int]:
    """The PostgreSQL backends serving the benchmark's database: other users of this machine's
    PostgreSQL (test suites running alongside) are not ours to count."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    title = cmdline.read().decode(errors="replace").split()
            except (FileNotFoundError, PermissionError):
                continue
            # A backend's title: "postgres: <cluster>: <user> <database> <client> <state>".
            if title[:1] == ["postgres:"] and BENCH_DB in title[1:5]:
                pids.append(int(entry))
    return pids
